"""Training (to come): contrastive and distillation losses, sparsity regularisers, teachers,
hard-negative mining and the trainer. Encoders expose what it needs, e.g.
`DecoderSpladeEncoder.forward_pooled` (vectors with gradients) and LoRA adapters."""

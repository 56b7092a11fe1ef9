"""Training: losses (`losses`), the training config (`config`), retrievers for hard-negative mining
(`retrievers`), teachers and their ensemble (`teachers`), deterministic batches (`batches`) and the
trainer with exact resume (`trainer`). `lsr.pipelines.distill` drives them as `lsr train`."""

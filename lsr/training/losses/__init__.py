"""Training losses: ranking (InfoNCE), distillation (MarginMSE, KL), sparsity regularisers
(FLOPS, L1, quadratic λ warm-up) and the inference-free IDF query side with its IDF-aware FLOPS."""

from __future__ import annotations

from lsr.training.losses.contrastive import info_nce
from lsr.training.losses.inference_free import idf_query_vectors, score_space_flops
from lsr.training.losses.kl import kl_distillation
from lsr.training.losses.margin import margin_mse
from lsr.training.losses.sparsity import flops, l1, quadratic_warmup

__all__ = ["flops", "idf_query_vectors", "info_nce", "kl_distillation", "l1", "margin_mse",
           "quadratic_warmup", "score_space_flops"]

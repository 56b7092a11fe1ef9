"""Encoders and the registry that loads a model folder as the right one (`load_encoder`)."""

from __future__ import annotations

import os

# Set before torch's first allocation (every encoder module imports torch after this package),
# it makes PyTorch's CPU allocator ask for transparent huge pages for large tensors, so the
# [batch, length, vocabulary] logits page-fault far less. A user's own setting wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from lsr.models.base import Encoder, EncoderConfig, vocab_fingerprint  # noqa: E402
from lsr.models.registry import ENCODER_KINDS, load_encoder, local_folder  # noqa: E402

__all__ = ["Encoder", "EncoderConfig", "ENCODER_KINDS", "load_encoder", "local_folder", "vocab_fingerprint"]

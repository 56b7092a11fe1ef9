"""Encoders (masked-LM SPLADE, decoder LLMs, inference-free, sentence-transformers folders) and the registry
that loads a model folder as the right one (`load_encoder`)."""

from lsr.models.base import Encoder, ModelInfo, vocab_fingerprint
from lsr.models.hub import local_folder
from lsr.models.registry import ENCODER_KINDS, load_encoder

__all__ = ["Encoder", "ModelInfo", "ENCODER_KINDS", "load_encoder", "local_folder", "vocab_fingerprint"]

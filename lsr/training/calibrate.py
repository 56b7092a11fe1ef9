"""A decoder student's starting sparsity: the logit threshold that leaves N terms per document.

An LLM's LM head gives almost every vocabulary entry a positive logit at every position, so an
untrained decoder SPLADE vector holds the whole vocabulary (49,135 of SmolLM2's 49,152 entries) and
scores are dot products in the tens of thousands: a KL loss over such scores is a hard argmax whose
bounded gradient cannot pull them back into range in a few hundred LoRA steps. Raising the
threshold a logit must pass (w_j = max_i log1p(ReLU(logit_ij - t))) to the value that leaves an
average document N terms starts training from a sparse model whose scores are tens, not tens of
thousands; the FLOPS regulariser takes sparsity on from there.

For max pooling, a term survives in a document when its pooled (maximum) logit m_j exceeds t, so
the mean number of terms per document is #{(d, j): m_dj > t} / #docs, and t lies between the
(N · #docs)-th and the next largest pooled logit over the sample.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from lsr.errors import LsrError

log = logging.getLogger(__name__)


def threshold_for_postings(encoder, docs: Sequence[str], postings: int, batch_size: int = 8) -> float:
    """The logit threshold at which `docs` average `postings` terms each under `encoder` (a decoder).

    The encoder's current threshold t0 is taken into account (pooled logits m = expm1(w) + t0 for the
    terms with weight); `LsrError` when the documents already average fewer terms than asked.
    """
    if encoder.pooling.pooling != "max" or encoder.pooling.activation != "relu":
        raise LsrError("model.calibrate_postings needs max pooling with the relu activation")
    if postings < 1 or not docs:
        raise LsrError("model.calibrate_postings: give a positive number of terms and some documents")
    current = encoder.pooling.threshold
    pooled = []
    with torch.inference_mode():
        for start in range(0, len(docs), batch_size):
            weights = encoder.forward(list(docs[start:start + batch_size]), is_query=False)
            pooled.append(torch.expm1(weights[weights > 0].double()) + current)
    values = torch.cat(pooled)
    wanted = postings * len(docs)
    if values.numel() <= wanted:
        raise LsrError(f"model.calibrate_postings = {postings}: the documents already average "
                       f"{values.numel() / len(docs):.1f} terms")
    edge = torch.topk(values, wanted + 1).values[-2:]  # the last term kept and the first one dropped
    threshold = float(edge.mean())  # halfway: batching's float noise does not flip either
    log.info("logit threshold %.4f: %.1f -> %d terms per document over %d documents",
             threshold, values.numel() / len(docs), postings, len(docs))
    return threshold

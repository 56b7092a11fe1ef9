"""Training losses against hand computations, and the IDF-aware FLOPS pruning common terms."""

from __future__ import annotations

import math

import pytest
import torch

from lsr.training.losses import (
    flops,
    idf_query_vectors,
    info_nce,
    kl_distillation,
    l1,
    margin_mse,
    quadratic_warmup,
    score_space_flops,
)

E = math.e

# Two queries, two documents each (slot 0 the positive), over a vocabulary of 2 terms.
QUERIES = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
DOCS = torch.tensor([[[2.0, 0.0], [1.0, 1.0]],   # query 0 scores its own docs 2, 1; query 1 scores them 0, 1
                     [[0.0, 3.0], [1.0, 0.0]]])  # query 0 scores these 0, 1; query 1 scores them 3, 0


def test_info_nce_own_documents_only():
    expected = ((-2 + math.log(E**2 + E)) + (-3 + math.log(E**3 + 1))) / 2
    assert info_nce(QUERIES, DOCS, in_batch=False).item() == pytest.approx(expected)


def test_info_nce_in_batch_negatives():
    # Query 0 over all four documents: 2, 1, 0, 1 (positive first); query 1: 0, 1, 3, 0 (positive third).
    expected = ((-2 + math.log(E**2 + E + 1 + E)) + (-3 + math.log(1 + E + E**3 + 1))) / 2
    assert info_nce(QUERIES, DOCS).item() == pytest.approx(expected)


def test_info_nce_temperature_divides_scores():
    expected = ((-4 + math.log(E**4 + E**2 + 1 + E**2)) + (-6 + math.log(1 + E**2 + E**6 + 1))) / 2
    assert info_nce(QUERIES, DOCS, temperature=0.5).item() == pytest.approx(expected)


def test_info_nce_is_differentiable_and_checks_shapes():
    queries = QUERIES.clone().requires_grad_()
    info_nce(queries, DOCS).backward()
    assert queries.grad is not None and queries.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="queries"):
        info_nce(QUERIES, DOCS[:, 0])


def test_margin_mse():
    student = torch.tensor([[3.0, 1.0, 2.0], [0.0, 1.0, 0.0]])
    teacher = torch.tensor([[5.0, 4.0, 1.0], [2.0, 0.0, 2.0]])
    # Student margins 2, 1 | -1, 0; teacher margins 1, 4 | 2, 0; squared differences 1, 9 | 9, 0.
    assert margin_mse(student, teacher).item() == pytest.approx(19 / 4)
    with pytest.raises(ValueError, match="G >= 2"):
        margin_mse(student[:, :1], teacher[:, :1])


def test_kl_distillation():
    # Row 0: p_T = (1/2, 1/2), p_S = (1/4, 3/4); row 1: p_T = (3/4, 1/4), p_S = (1/2, 1/2).
    student = torch.tensor([[0.0, math.log(3)], [0.0, 0.0]])
    teacher = torch.tensor([[0.0, 0.0], [math.log(3), 0.0]])
    row0 = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    row1 = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kl_distillation(student, teacher).item() == pytest.approx((row0 + row1) / 2)


def test_kl_distillation_temperature_without_t_squared():
    student = torch.tensor([[0.0, 2 * math.log(3)]])  # at T = 2: p_S = (1/4, 3/4)
    teacher = torch.tensor([[0.0, 0.0]])
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert kl_distillation(student, teacher, temperature=2.0).item() == pytest.approx(expected)


def test_kl_distillation_is_zero_for_shifted_scores():
    teacher = torch.tensor([[1.0, -2.0, 0.5], [4.0, 4.0, 3.0]])
    assert kl_distillation(teacher + 7.0, teacher).item() == pytest.approx(0.0, abs=1e-6)


WEIGHTS = torch.tensor([[1.0, -2.0, 0.0], [3.0, 0.0, 4.0]])


def test_flops():
    # Mean |w| per column: 2, 1, 2.
    assert flops(WEIGHTS).item() == pytest.approx(4 + 1 + 4)
    with pytest.raises(ValueError, match=r"\[N, V\]"):
        flops(WEIGHTS[0])


def test_l1():
    # Row L1 norms 3 and 7.
    assert l1(WEIGHTS).item() == pytest.approx(5)


def test_flops_and_l1_keep_dtype():
    assert flops(WEIGHTS.double()).dtype == torch.float64
    assert l1(WEIGHTS.half()).dtype == torch.float16


def test_quadratic_warmup():
    assert quadratic_warmup(2.0, 1, 10) == pytest.approx(0.02)
    assert quadratic_warmup(2.0, 5, 10) == pytest.approx(0.5)
    assert quadratic_warmup(2.0, 10, 10) == 2.0
    assert quadratic_warmup(2.0, 20, 10) == 2.0
    assert quadratic_warmup(2.0, 1, 0) == 2.0


def test_idf_query_vectors():
    idf = torch.nn.Parameter(torch.tensor([0.5, 2.0, -1.0, 3.0, 1.0]))
    vectors = idf_query_vectors([[1, 1, 3, 4], [2, 0], []], idf, special_ids=[4])
    expected = torch.tensor([[0.0, 2.0, 0.0, 3.0, 0.0],  # token 1 counted once, special 4 zeroed
                             [0.5, 0.0, 0.0, 0.0, 0.0],  # negative idf of token 2 clipped to 0
                             [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert torch.equal(vectors.detach(), expected)
    vectors.sum().backward()
    # d/d idf_j: the number of queries holding j, for idf_j > 0 and j not special.
    assert torch.equal(idf.grad, torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0]))


def test_idf_query_vectors_dtype_and_range():
    assert idf_query_vectors([[0]], torch.ones(3, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match="token ids"):
        idf_query_vectors([[3]], torch.ones(3))
    with pytest.raises(ValueError, match="token ids"):
        idf_query_vectors([[-1]], torch.ones(3))


def test_score_space_flops_equals_flops_of_raw_weights():
    doc_weights = torch.tensor([[0.0, 1.0, 2.0, 0.5], [3.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 4.0]])
    idf = torch.tensor([0.1, 2.0, 5.0, 0.7])
    contributions = doc_weights * idf
    assert score_space_flops(contributions, idf).item() == pytest.approx(flops(doc_weights).item())
    # Term 0 in score space: mean |u| = 0.4 / 3, penalised by 1 / 0.1² = 100.
    assert score_space_flops(contributions[:, :1], idf[:1]).item() == pytest.approx((0.4 / 3) ** 2 * 100)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_losses_on_gpu():
    device = torch.device("cuda")
    idf = torch.tensor([0.5, 2.0], device=device)
    queries = idf_query_vectors([[0], [1]], idf)
    assert queries.device.type == "cuda"
    scores = torch.tensor([[1.0, 0.0], [2.0, 1.0]], device=device)
    for value in (info_nce(queries, DOCS.to(device)), margin_mse(scores, scores.flip(1)),
                  kl_distillation(scores, scores), flops(scores), l1(scores),
                  score_space_flops(scores, idf)):
        assert value.device.type == "cuda" and torch.isfinite(value)


# The IDF-aware FLOPS in a small optimisation. Six documents, each the text {COMMON, rare_i}:
# COMMON occurs in every document, rare_i in document i only, hence the BM25 idf
# ln(1 + (N - df + 0.5) / (df + 0.5)) of 0.074 for COMMON and 1.54 for each rare term.
# Query i holds rare_i and, for i < 3 only, COMMON too; its positive is document i and the
# other documents are in-batch negatives. So COMMON helps rank documents 0-2 for queries 0-2
# (it sets them apart from documents 3-5), less than each rare term does.
NUM_DOCS = 6
COMMON = 0
RARE = list(range(1, NUM_DOCS + 1))
WITH_COMMON = [0, 1, 2]
SURVIVES = 0.1  # a document term weight above this counts as kept


def _idf(df: int) -> float:
    return math.log1p((NUM_DOCS - df + 0.5) / (df + 0.5))


def _train_doc_weights(idf: torch.Tensor, lam: float = 1.0, steps: int = 300) -> torch.Tensor:
    """Document weights (free, >= 0 by projection, only on the document's own terms) after Adam on
    info_nce(idf_query_vectors, docs) + lam * flops(docs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small only lose time to intra-op threads
    try:
        return _optimise(idf, lam, steps)
    finally:
        torch.set_num_threads(threads)


def _optimise(idf: torch.Tensor, lam: float, steps: int) -> torch.Tensor:
    torch.manual_seed(0)
    text = torch.zeros(NUM_DOCS, NUM_DOCS + 1)
    text[:, COMMON] = 1
    text[range(NUM_DOCS), RARE] = 1
    weights = torch.nn.Parameter((0.5 + 0.1 * torch.rand(text.shape)) * text)
    queries = idf_query_vectors([[COMMON, RARE[i]] if i in WITH_COMMON else [RARE[i]] for i in range(NUM_DOCS)], idf)
    optimizer = torch.optim.Adam([weights], lr=0.05)
    for _ in range(steps):
        docs = weights * text
        loss = info_nce(queries, docs[:, None, :]) + lam * flops(docs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            weights.clamp_(min=0)
    return (weights * text).detach()


def _kept(weights: torch.Tensor) -> set[tuple[int, int]]:
    return {(doc, term) for doc, term in (weights > SURVIVES).nonzero().tolist()}


def test_idf_weighting_decides_whether_the_common_term_survives():
    idf = torch.tensor([_idf(NUM_DOCS)] + [_idf(1)] * NUM_DOCS)
    with_idf = _train_doc_weights(idf)
    without_idf = _train_doc_weights(torch.ones_like(idf))  # plain binary queries

    rare_kept = {(doc, RARE[doc]) for doc in range(NUM_DOCS)}
    # IDF on: only the rare terms survive. COMMON's weights enter the score scaled by 0.074, so
    # per unit of score FLOPS charges it (1.54 / 0.074)² ≈ 430 times what a rare term pays: it
    # is pruned to near zero in every document (about 0.015 in documents 0-2, 0 in 3-5).
    assert _kept(with_idf) == rare_kept
    assert with_idf[:, COMMON].max() < 0.05
    assert with_idf[range(NUM_DOCS), RARE].min() > 1.0
    # IDF off: COMMON also survives, at about 0.26, in exactly the documents of the queries
    # that hold it (0-2), and stays pruned in documents 3-5.
    assert _kept(without_idf) == rare_kept | {(doc, COMMON) for doc in WITH_COMMON}
    assert without_idf[WITH_COMMON, COMMON].min() > 0.2
    assert without_idf[range(NUM_DOCS), RARE].min() > 1.0

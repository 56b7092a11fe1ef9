"""KL distillation: the student's softmax over each query's candidates fitted to the teacher's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kl_distillation(student: torch.Tensor, teacher: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """KL(p_T ‖ p_S) over the G candidates of each query, averaged over the B queries.

    With p_T = softmax(teacher / T) and p_S = softmax(student / T) over each row of the [B, G]
    scores: `L = (1/B) Σ_b Σ_g p_T(b,g) (log p_T(b,g) - log p_S(b,g))`. No T² factor is
    applied. The teacher is used as given: detach it if it should receive no gradient.
    """
    if student.ndim != 2 or student.shape != teacher.shape:
        raise ValueError(f"expected student and teacher scores of one shape [B, G], got "
                         f"{tuple(student.shape)} and {tuple(teacher.shape)}")
    log_student = F.log_softmax(student / temperature, dim=1)
    log_teacher = F.log_softmax(teacher / temperature, dim=1)
    return F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)

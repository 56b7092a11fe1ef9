"""MarginMSE (Hofstätter et al.): match the student's positive-negative margins to the teacher's."""

from __future__ import annotations

import torch


def margin_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MarginMSE of student and teacher scores [B, G], slot 0 the positive, G >= 2.

    `L = 1/(B(G-1)) Σ_b Σ_{g>=1} ((s_b0 - s_bg) - (t_b0 - t_bg))²`. The teacher is used as
    given: detach it if it should receive no gradient.
    """
    if student.ndim != 2 or student.shape != teacher.shape or student.shape[1] < 2:
        raise ValueError(f"expected student and teacher scores of one shape [B, G] with G >= 2, got "
                         f"{tuple(student.shape)} and {tuple(teacher.shape)}")
    student_margins = student[:, :1] - student[:, 1:]
    teacher_margins = teacher[:, :1] - teacher[:, 1:]
    return (student_margins - teacher_margins).square().mean()

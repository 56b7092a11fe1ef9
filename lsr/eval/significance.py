"""Paired significance tests over per-query values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def paired_t_test(system: Mapping[str, float], baseline: Mapping[str, float]) -> float:
    """Two-sided p-value of a paired t-test over the queries both hold (1.0 when undefined)."""
    from scipy.stats import ttest_rel

    common = [q for q in system if q in baseline]
    a = np.array([system[q] for q in common])
    b = np.array([baseline[q] for q in common])
    if len(common) < 2 or np.allclose(a, b):
        return 1.0
    return float(ttest_rel(a, b).pvalue)

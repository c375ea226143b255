"""Binary classifier metrics on a holdout: labels 0/1, scores in [0, 1].

``auc`` is the ROC AUC by ranks (the Mann-Whitney statistic, ties counting a half);
``log_loss`` clips scores to [1e-15, 1 - 1e-15] as scikit-learn does; ``brier`` is the
mean squared error of the scores; the others count decisions ``score >= threshold``.

>>> y = [1, 1, 0, 0, 1, 0]
>>> s = [0.9, 0.6, 0.65, 0.2, 0.8, 0.1]
>>> found = compute(y, s)
>>> {k: round(v, 4) for k, v in found.items()}  # doctest: +NORMALIZE_WHITESPACE
{'auc': 0.8889, 'log_loss': 0.3696, 'brier': 0.1138, 'accuracy': 0.8333,
 'precision': 0.75, 'recall': 1.0, 'f1': 0.8571, 'positive_rate': 0.6667}
>>> compute([1, 1], [0.9, 0.8])["auc"] is None   # one class only: no AUC
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

# The metrics gate validate knows, and whether more is better (for the report's wording).
HIGHER_IS_BETTER = {
    "auc": True,
    "log_loss": False,
    "brier": False,
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "positive_rate": True,
}
EPS = 1e-15


def roc_auc(y: np.ndarray, s: np.ndarray) -> float | None:
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(s)  # average ranks: a tie between classes counts a half
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def compute(
    labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5
) -> dict[str, float | None]:
    """Every metric of :data:`HIGHER_IS_BETTER`; None where it is undefined."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if len(y) != len(s) or len(y) == 0:
        raise ValueError(f"{len(y)} labels and {len(s)} scores: need as many, at least one")
    clipped = np.clip(s, EPS, 1 - EPS)
    log_loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    decided = s >= threshold
    tp = int(np.sum(decided & (y == 1)))
    fp = int(np.sum(decided & (y == 0)))
    fn = int(np.sum(~decided & (y == 1)))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "auc": roc_auc(y, s),
        "log_loss": float(log_loss),
        "brier": float(np.mean((s - y) ** 2)),
        "accuracy": float(np.mean(decided == (y == 1))),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "positive_rate": float(np.mean(decided)),
    }

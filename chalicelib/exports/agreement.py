"""Agreement between annotators of one sample, from their instance masks.

Objects of two annotators are matched one to one by IoU with an optimal assignment (the
matching that maximises the summed IoU); a pair with IoU >= 0.5 counts as a match. For a pair
of annotators: F1 at 0.5 = 2 * matches / (objects of A + objects of B), and the mean IoU of the
matches. A sample's figure is the mean over its pairs of annotators; the task's, the mean over
samples with at least two annotators. Two empty annotations agree fully (F1 1.0).

The assignment is a small Hungarian method (objects per annotation are few, tens): scipy's
linear_sum_assignment would do the same but would add 40 MB to the Lambda for one function.
"""
from itertools import combinations

import numpy as np

MATCH_IOU = 0.5


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every object of label mask `a` (rows) with every object of `b` (columns), over
    the object ids present in each (sorted). One pass over the pixels: a joint histogram."""
    ids_a, inv_a = np.unique(a, return_inverse=True)
    ids_b, inv_b = np.unique(b, return_inverse=True)
    joint = np.bincount(inv_a.ravel() * len(ids_b) + inv_b.ravel(),
                        minlength=len(ids_a) * len(ids_b)).reshape(len(ids_a), len(ids_b))
    keep_a, keep_b = ids_a != 0, ids_b != 0
    inter = joint[np.ix_(keep_a, keep_b)].astype(float)
    area_a = joint[keep_a].sum(axis=1, keepdims=True)
    area_b = joint[:, keep_b].sum(axis=0, keepdims=True)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def assignment(score: np.ndarray) -> list[tuple[int, int]]:
    """Row/column pairs maximising the summed score (Hungarian method, O(n^3))."""
    rows, cols = score.shape
    if not rows or not cols:
        return []
    transposed = rows > cols
    cost = -(score.T if transposed else score)      # n <= m: every row gets a column
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=int)               # owner[j]: row (1-based) holding column j
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        slack, way = np.full(m + 1, np.inf), np.zeros(m + 1, dtype=int)
        used = np.zeros(m + 1, dtype=bool)
        while owner[j0]:
            used[j0] = True
            i0 = owner[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = ~used[1:] & (reduced < slack[1:])
            slack[1:][better], way[1:][better] = reduced[better], j0
            free = np.flatnonzero(~used[1:]) + 1
            j1 = free[np.argmin(slack[free])]
            delta = slack[j1]
            u[owner[used]] += delta
            v[used] -= delta
            slack[~used] -= delta
            j0 = j1
        while j0:
            j1 = way[j0]
            owner[j0], j0 = owner[j1], j1
    pairs = [(owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j]]
    return sorted((c, r) if transposed else (r, c) for r, c in pairs)


def pair(a: np.ndarray, b: np.ndarray) -> dict:
    """Agreement of two annotators' instance masks of one image."""
    iou = iou_matrix(a, b)
    na, nb = iou.shape
    if not na and not nb:
        return {"f1": 1.0, "mean_iou": None, "matches": 0, "objects": [0, 0]}
    matched = [iou[r, c] for r, c in assignment(iou) if iou[r, c] >= MATCH_IOU]
    return {"f1": 2 * len(matched) / (na + nb),
            "mean_iou": float(np.mean(matched)) if matched else None,
            "matches": len(matched), "objects": [na, nb]}


def sample(masks: dict[str, np.ndarray]) -> dict | None:
    """Mean over every pair of annotators (annotator -> instance mask); None below two."""
    if len(masks) < 2:
        return None
    pairs = {f"{x}|{y}": pair(masks[x], masks[y]) for x, y in combinations(sorted(masks), 2)}
    ious = [p["mean_iou"] for p in pairs.values() if p["mean_iou"] is not None]
    return {"f1": float(np.mean([p["f1"] for p in pairs.values()])),
            "mean_iou": float(np.mean(ious)) if ious else None, "pairs": pairs}

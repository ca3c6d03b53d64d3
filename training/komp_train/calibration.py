"""Post-hoc calibration of a linear classifier's scores, fitted deterministically (no random restarts, no
solver tolerances that depend on the BLAS): the exporters fold the result into the exported weights, so the
component returns calibrated probabilities without an extra step at serving time."""
from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a [N, C] array, in the array's own precision."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, in float64."""
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) (deterministic 1-D search).

    `logits` [N, C] are held-out decision values (out-of-fold predictions, never the test set), `y` [N] the
    true class indices. The search covers T in [0.05, 20]: a grid of 401 points on log T, then 60 steps of
    golden-section refinement around the best one."""
    def nll(t):
        p = softmax(logits / t)
        return -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)))
    lo, hi = np.log(0.05), np.log(20.0)
    grid = np.linspace(lo, hi, 401)
    vals = [nll(np.exp(g)) for g in grid]
    g = grid[int(np.argmin(vals))]
    a, b = g - (hi - lo) / 400, g + (hi - lo) / 400
    for _ in range(60):  # golden-section refinement
        c = b - (b - a) * 0.618033988749895
        d = a + (b - a) * 0.618033988749895
        if nll(np.exp(c)) < nll(np.exp(d)):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a*z + c) by Newton's method on the log-loss (deterministic).

    `z` [N] are held-out decision values of a binary classifier, `y` [N] the 0/1 truth. Returns (a, c)."""
    a, c = 1.0, 0.0
    z = z.astype(np.float64)
    y = y.astype(np.float64)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * z + c)))
        g = np.array([np.sum((p - y) * z), np.sum(p - y)])
        w = p * (1 - p)
        H = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(H, g)
        a, c = a - step[0], c - step[1]
        if np.abs(step).max() < 1e-12:
            break
    return float(a), float(c)

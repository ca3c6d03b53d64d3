"""Text features shared by training (this file) and serving (Rust `komp_sdk::text`).

Implements docs/text-features.md exactly (steps 1-7 normalisation and tokens, step 8 stop words from
the shared list docs/stopwords.txt, read at import time, then features on the content tokens). Change both sides or neither.
"""
from __future__ import annotations

import math
import os
import unicodedata

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF

_FOLD = {"æ": "ae", "ø": "oe", "å": "aa"}


def normalize(text: str) -> str:
    """Steps 1-6 of the spec: the normalised string (non [a-z0-9] already turned into spaces)."""
    s = unicodedata.normalize("NFC", text)                       # 1
    s = s.lower()                                                # 2
    s = "".join(_FOLD.get(ch, ch) for ch in s)                   # 3
    s = unicodedata.normalize("NFKD", s).lower()                 # 4
    s = "".join(ch for ch in s if not (0x300 <= ord(ch) <= 0x36F))  # 5
    return "".join(ch if ("a" <= ch <= "z" or "0" <= ch <= "9") else " " for ch in s)  # 6


def tokens(text: str) -> list[str]:
    """Step 7: maximal runs of non-space characters of the normalised text."""
    return normalize(text).split()


STOPWORDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "stopwords.txt")


def _load_stopwords(path: str = STOPWORDS_PATH) -> frozenset[str]:
    """Step 8: the shared list docs/stopwords.txt; lines starting with '#' and empty lines are ignored."""
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f]
    return frozenset(ln for ln in lines if ln and not ln.startswith("#"))


STOPWORDS: frozenset[str] = _load_stopwords()


def is_stopword(token: str) -> bool:
    return token in STOPWORDS


def content_tokens(text: str) -> list[str]:
    """Step 8: tokens(text) without the stop words of docs/stopwords.txt, in order. Features use these."""
    return [t for t in tokens(text) if t not in STOPWORDS]


_HASH_CACHE: dict[str, int] = {}


def fnv1a64(s: str) -> int:
    h = _HASH_CACHE.get(s)
    if h is None:
        h = FNV_OFFSET
        for b in s.encode("utf-8"):
            h ^= b
            h = (h * FNV_PRIME) & MASK64
        if len(_HASH_CACHE) < 2_000_000:
            _HASH_CACHE[s] = h
    return h


def feature_strings(toks: list[str]) -> list[tuple[str, float]]:
    """Feature strings and weights of a list of content tokens (spec: "Features")."""
    out: list[tuple[str, float]] = []
    for t in toks:
        out.append(("w=" + t, 1.0))
    for a, b in zip(toks, toks[1:]):
        out.append(("b=" + a + " " + b, 1.0))
    for t in toks:
        w = "<" + t + ">"
        for i in range(len(w) - 2):
            out.append(("c=" + w[i:i + 3], 0.5))
    return out


def sparse_features(text: str, dim: int) -> dict[int, float]:
    """Index -> value (f64, already L2-normalised, not yet cast). Zero buckets are dropped."""
    if dim <= 0 or dim & (dim - 1):
        raise ValueError("dim must be a power of two")
    acc: dict[int, float] = {}
    for f, w in feature_strings(content_tokens(text)):
        h = fnv1a64(f)
        idx = h & (dim - 1)
        sign = -1.0 if (h >> 63) & 1 else 1.0
        acc[idx] = acc.get(idx, 0.0) + sign * w
    norm = math.sqrt(sum(v * v for v in acc.values()))
    if norm > 0:
        return {i: v / norm for i, v in acc.items() if v != 0.0}
    return {}


def features(text: str, dim: int) -> np.ndarray:
    """Dense float32 vector of length dim (spec: accumulate + normalise in f64, then cast)."""
    x = np.zeros(dim, dtype=np.float64)
    for i, v in sparse_features(text, dim).items():
        x[i] = v
    return x.astype(np.float32)


def features_csr(texts: list[str], dim: int):
    """Row-stacked float32 scipy CSR matrix of features(text, dim) for many texts."""
    import scipy.sparse as sp

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for t in texts:
        d = sparse_features(t, dim)
        for i in sorted(d):
            indices.append(i)
            data.append(d[i])
        indptr.append(len(indices))
    m = sp.csr_matrix(
        (np.asarray(data, dtype=np.float64).astype(np.float32), np.asarray(indices, dtype=np.int64),
         np.asarray(indptr, dtype=np.int64)),
        shape=(len(texts), dim),
    )
    return m

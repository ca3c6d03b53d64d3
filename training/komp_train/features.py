"""Text features shared by training (this module) and serving (Rust `komp_sdk::text`).

Implements docs/text-features.md exactly (steps 1-7 normalisation and tokens, step 8 stop words from
the shared list docs/stopwords.txt, read at import time, then features on the content tokens). Change both
sides or neither: `sdk/tests/feature_fixtures.rs` checks the Rust side bit for bit against the fixtures that
training/make_fixtures.py writes with this module.
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


def _folded(text: str) -> str:
    """Steps 1-4 of the spec, shared by `normalize` and the tokenisers that also look at punctuation."""
    s = unicodedata.normalize("NFC", text)                       # 1
    s = s.lower()                                                # 2
    s = "".join(_FOLD.get(ch, ch) for ch in s)                   # 3
    return unicodedata.normalize("NFKD", s).lower()              # 4


def normalize(text: str) -> str:
    """Steps 1-6 of the spec: the normalised string (non [a-z0-9] already turned into spaces)."""
    s = _folded(text)
    s = "".join(ch for ch in s if not (0x300 <= ord(ch) <= 0x36F))  # 5
    return "".join(ch if ("a" <= ch <= "z" or "0" <= ch <= "9") else " " for ch in s)  # 6


def tokens(text: str) -> list[str]:
    """Step 7: maximal runs of non-space characters of the normalised text."""
    return normalize(text).split()


CLAUSE_END = frozenset(".!?;\n")


def tokens_with_breaks(text: str) -> list[tuple[str, bool]]:
    """Step 7 plus step 9a: each token and whether it ends a clause (one of `. ! ? ;` or a line feed among
    the characters between it and the next token, looked at after steps 1-5)."""
    s = _folded(text)
    out: list[tuple[str, bool]] = []
    cur: list[str] = []
    for ch in s:
        if 0x300 <= ord(ch) <= 0x36F:
            continue
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            cur.append(ch)
            continue
        if cur:
            out.append(("".join(cur), False))
            cur = []
        if ch in CLAUSE_END and out:
            out[-1] = (out[-1][0], True)
    if cur:
        out.append(("".join(cur), False))
    return out


# The package is installed editable from the repository (training/setup.sh), so the list is read from the
# repository itself, never copied: the Rust SDK reads the same file at compile time.
STOPWORDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "stopwords.txt")


def _load_stopwords(path: str = STOPWORDS_PATH) -> frozenset[str]:
    """Step 8: the shared list docs/stopwords.txt; lines starting with '#' and empty lines are ignored."""
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise ImportError(
            f"komp_train.features: the stop-word list {os.path.normpath(path)} is missing. komp_train reads "
            "docs/stopwords.txt from the komp repository it was installed from: install it editable from a "
            "checkout (training/setup.sh, or `pip install -e training`), not from a copy of the package") from None
    with f:
        lines = [ln.strip() for ln in f]
    return frozenset(ln for ln in lines if ln and not ln.startswith("#"))


STOPWORDS: frozenset[str] = _load_stopwords()


def is_stopword(token: str) -> bool:
    return token in STOPWORDS


def content_tokens(text: str) -> list[str]:
    """Step 8: tokens(text) without the stop words of docs/stopwords.txt, in order. Features use these."""
    return [t for t in tokens(text) if t not in STOPWORDS]


# Step 9: negation scope and past-time clauses (docs/text-features.md).
NEGATIONS = frozenset(["ikke", "ik", "ingen", "intet", "ingenting", "aldrig", "uden", "hverken"])
NEG_SCOPE = 4
SCOPE_BREAK = frozenset(["men"])
PAST_CUES = frozenset(["tidligere", "afsluttet", "afsluttede", "haandteret", "dengang"])
PAST_UNITS = frozenset(["aar", "aars", "maaned", "maaneder"])
TODAY = frozenset(["dag", "morges", "nat", "aften", "formiddags", "eftermiddags"])


def _is_past_cue(toks: list[str], i: int) -> bool:
    t = toks[i]
    if t == "siden":
        return i > 0 and toks[i - 1] in PAST_UNITS
    if t == "tidligere":
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        nxt2 = toks[i + 2] if i + 2 < len(toks) else ""
        return not (nxt == "idag" or (nxt == "i" and nxt2 in TODAY))
    return t in PAST_CUES


def marked_content_tokens(text: str) -> list[tuple[str, str]]:
    """Step 8 + 9: the content tokens, each with its mark: "n" (in a negation scope), "h" (in a past-time
    clause) or "w" (neither)."""
    tb = tokens_with_breaks(text)
    toks = [t for t, _ in tb]
    n = len(toks)
    past = [False] * n
    start = 0
    for i in range(n):                       # clauses: runs of tokens up to and including a clause end
        if tb[i][1] or i == n - 1:
            if any(_is_past_cue(toks, k) for k in range(start, i + 1)):
                for k in range(start, i + 1):
                    past[k] = True
            start = i + 1
    out: list[tuple[str, str]] = []
    left = 0                                 # content tokens still in the current negation scope
    for i, t in enumerate(toks):
        if t in NEGATIONS:
            cue = True
        else:
            cue = False
        if t in SCOPE_BREAK:
            left = 0
        if t not in STOPWORDS:
            if cue or _is_past_cue(toks, i):
                mark = "w"
            elif left > 0:
                mark = "n"
                left -= 1
            elif past[i]:
                mark = "h"
            else:
                mark = "w"
            out.append((t, mark))
        if cue:
            left = NEG_SCOPE
        if tb[i][1]:
            left = 0
    return out


# Step 10 (only for models that ask for it: postsortering): request and subject-line marks.
SUBJECT_CUES = frozenset(["emne", "subject", "vedr", "vedroerende", "vedrorende", "ang", "angaaende", "angaende"])
REQUEST_WORDS = frozenset(["oensker", "onsker", "oenske", "onske", "anmoder", "ansoeger", "ansoger", "please",
                           "request"])
REQUEST_PAIRS = frozenset([
    ("vil", "gerne"), ("ville", "gerne"), ("beder", "om"), ("bede", "om"), ("kan", "i"), ("kan", "jeg"),
    ("kan", "man"), ("kan", "du"), ("kan", "vi"), ("kunne", "i"), ("vil", "i"), ("maa", "jeg"), ("ma", "jeg"),
    ("skal", "jeg"), ("skal", "vi"), ("soeger", "om"), ("soger", "om"), ("soege", "om"), ("klage", "over"),
    ("klager", "over"), ("hvordan", "kan"), ("hvordan", "goer"), ("hvordan", "gor"), ("hvad", "skal"),
    ("hvor", "kan"), ("hvornaar", "kan"), ("hvornar", "kan"), ("would", "like"), ("can", "you"), ("could", "you"),
    ("can", "i"), ("could", "i"), ("how", "do"), ("how", "can"), ("i", "need"), ("i", "want"), ("we", "need"),
    ("we", "want"), ("i", "would"), ("we", "would"), ("hjaelp", "til"), ("brug", "for"), ("hjaelpe", "med"),
])

def tokens_with_ends(text: str) -> tuple[list[tuple[str, bool, bool, bool]], bool]:
    """Step 10a: each token with (clause end, question, line end) about the characters between it and the next
    token (or the end), looked at after steps 1-5, and whether a line feed comes before the first token."""
    s = _folded(text)
    out: list[list] = []
    cur: list[str] = []
    lead_line = False
    for ch in s:
        if 0x300 <= ord(ch) <= 0x36F:
            continue
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            cur.append(ch)
            continue
        if cur:
            out.append(["".join(cur), False, False, False])
            cur = []
        if out:
            if ch in CLAUSE_END:
                out[-1][1] = True
            if ch == "?":
                out[-1][2] = True
            if ch == "\n":
                out[-1][3] = True
        elif ch == "\n":
            lead_line = True
    if cur:
        out.append(["".join(cur), False, False, False])
    return [(t, c, q, l) for t, c, q, l in out], lead_line


def request_marks(text: str) -> list[tuple[str, bool, bool]]:
    """Step 10: the content tokens, each with (in a subject line, in a request clause)."""
    te, lead_line = tokens_with_ends(text)
    toks = [t[0] for t in te]
    n = len(toks)
    subj = [False] * n
    req = [False] * n
    start = 0
    first = True
    for i in range(n):                       # lines
        if te[i][3] or i == n - 1:
            if (first and not lead_line) or toks[start] in SUBJECT_CUES:
                for k in range(start, i + 1):
                    subj[k] = True
            first = False
            start = i + 1
    start = 0
    for i in range(n):                       # clauses (step 9a)
        if te[i][1] or i == n - 1:
            hit = te[i][2] or any(toks[k] in REQUEST_WORDS for k in range(start, i + 1)) or any(
                (toks[k], toks[k + 1]) in REQUEST_PAIRS for k in range(start, i))
            if hit:
                for k in range(start, i + 1):
                    req[k] = True
            start = i + 1
    return [(toks[i], subj[i], req[i]) for i in range(n) if toks[i] not in STOPWORDS]


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


def feature_strings(marked: list[tuple[str, str]], request: list[tuple[str, bool, bool]] | None = None
                    ) -> list[tuple[str, float]]:
    """Feature strings and weights of a list of marked content tokens (spec: "Features"), plus the step-10
    `s=` / `r=` copies when `request` (request_marks of the same text) is given."""
    out: list[tuple[str, float]] = []
    toks = [t for t, _ in marked]
    for t, m in marked:
        out.append((m + "=" + t, 1.0))
    for a, b in zip(toks, toks[1:]):
        out.append(("b=" + a + " " + b, 1.0))
    for t in toks:
        w = "<" + t + ">"
        for i in range(len(w) - 2):
            out.append(("c=" + w[i:i + 3], 0.5))
    if request is not None:
        for t, in_subject, in_request in request:
            if in_subject:
                out.append(("s=" + t, 1.0))
            if in_request:
                out.append(("r=" + t, 1.0))
    return out


def sparse_features(text: str, dim: int, request: bool = False) -> dict[int, float]:
    """Index -> value (f64, already L2-normalised, not yet cast). Zero buckets are dropped."""
    if dim <= 0 or dim & (dim - 1):
        raise ValueError("dim must be a power of two")
    acc: dict[int, float] = {}
    for f, w in feature_strings(marked_content_tokens(text), request_marks(text) if request else None):
        h = fnv1a64(f)
        idx = h & (dim - 1)
        sign = -1.0 if (h >> 63) & 1 else 1.0
        acc[idx] = acc.get(idx, 0.0) + sign * w
    norm = math.sqrt(sum(v * v for v in acc.values()))
    if norm > 0:
        return {i: v / norm for i, v in acc.items() if v != 0.0}
    return {}


def features(text: str, dim: int, request: bool = False) -> np.ndarray:
    """Dense float32 vector of length dim (spec: accumulate + normalise in f64, then cast); `request` adds step 10."""
    x = np.zeros(dim, dtype=np.float64)
    for i, v in sparse_features(text, dim, request).items():
        x[i] = v
    return x.astype(np.float32)


def features_csr(texts: list[str], dim: int, request: bool = False):
    """Row-stacked float32 scipy CSR matrix of features(text, dim) for many texts."""
    import scipy.sparse as sp

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for t in texts:
        d = sparse_features(t, dim, request)
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

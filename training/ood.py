"""Out-of-distribution rules, the same as the SDK's `komp_sdk::ood` (docs/text-features.md, "Out of
distribution"). Used to write the review flags of the test rows so that the model cards count them."""
from __future__ import annotations

from collections import Counter

from komp_train.features import content_tokens, tokens

ENGLISH = frozenset(["am", "and", "are", "be", "been", "can", "could", "dear", "do", "does", "from", "has", "have",
                     "hello", "hi", "how", "is", "it", "me", "my", "not", "of", "on", "our", "please", "regards",
                     "thank", "thanks", "that", "the", "there", "they", "this", "to", "was", "we", "what", "when",
                     "with", "you"])
MAX_CONTENT_TOKENS = 800
MIN_KNOWN = 2
MIN_KNOWN_SHARE = 0.5
MIN_ENGLISH_SHARE = 0.15
MIN_ENGLISH = 3
MIN_COUNT = 3   # a content token is "known" if it occurs in at least this many training texts


def vocabulary(texts: list[str]) -> list[str]:
    """Sorted content tokens that occur in at least MIN_COUNT of the texts."""
    df: Counter = Counter()
    for t in texts:
        df.update(set(content_tokens(t)))
    return sorted(w for w, c in df.items() if c >= MIN_COUNT)


def check(text: str, known: frozenset[str], english_known: bool = False) -> list[str]:
    """The reasons why `text` is outside what the model knows (empty list: none). `english_known`: the model was
    trained on English as a second language, so English alone is not `other_language` (komp_sdk::ood::OodLimits)."""
    all_t = tokens(text)
    content = content_tokens(text)
    english = sum(1 for t in all_t if t in ENGLISH)
    known_n = sum(1 for t in content if t in known)
    reasons = []
    if not content:
        reasons.append("empty_after_stop_words")
    else:
        if known_n < MIN_KNOWN or known_n < MIN_KNOWN_SHARE * len(content):
            reasons.append("few_known_words")
        if len(content) > MAX_CONTENT_TOKENS:
            reasons.append("too_long")
    if not english_known and english >= MIN_ENGLISH and english >= MIN_ENGLISH_SHARE * len(all_t):
        reasons.append("other_language")
    return reasons

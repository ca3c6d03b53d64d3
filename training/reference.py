"""The `reference` block of a standard component's manifest: the distributions of its predictions on the
held-out synthetic test rows (`components/models/<name>.test.jsonl`), against which a host measures drift per
municipality (artifact/src/reference.rs has the format and the definitions; the host module is
host/src/drift.rs).

* labels: share of each predicted label;
* score: histogram of the score of the predicted label (postsortering: the top probability; underretning:
  P(acute) when the proposal is acute, 1 - P(acute) when it is not, as the component's scores);
* known_share: histogram of known content tokens / content tokens of the text (texts without content tokens
  are left out), with the component's own vocabulary (meta JSON out_of_distribution.known_words);
* content_tokens: histogram of the number of content tokens;
* unknown_word_share: unknown content tokens / content tokens over all rows.

The text is what the component tokenises: subject + "\\n" + body (postsortering), text (underretning).
Deterministic: the same rows give byte-identical output.
"""
from __future__ import annotations

import json
import os

from komp_train.features import content_tokens

SCORE_CUTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
KNOWN_SHARE_CUTS = [0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
CONTENT_TOKEN_CUTS = [5, 10, 20, 40, 80, 160, 320]


def histogram(values: list, cuts: list) -> dict:
    """Shares per bin; bin i holds the values with exactly i cuts <= value (the host's rule)."""
    counts = [0] * (len(cuts) + 1)
    for v in values:
        counts[sum(1 for c in cuts if c <= v)] += 1
    return {"cuts": cuts, "shares": [c / len(values) for c in counts]}


def _text(name: str, inp: dict) -> str:
    return inp["subject"] + "\n" + inp["body"] if name == "postsortering" else inp["text"]


def _predicted(name: str, e: dict) -> tuple:
    if name == "postsortering":
        return e["label"], e["probability"]
    p = e["probability"]
    return ("acute", p) if e["acute"] else ("not_acute", 1.0 - p)


def build(name: str, models: str) -> dict:
    with open(os.path.join(models, name + ".meta.json"), encoding="utf-8") as f:
        known = frozenset(json.load(f)["out_of_distribution"]["known_words"])
    with open(os.path.join(models, name + ".test.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    labels: dict = {}
    scores, shares, lengths = [], [], []
    unknown = total = 0
    for r in rows:
        label, score = _predicted(name, r["expected"])
        labels[label] = labels.get(label, 0) + 1
        scores.append(score)
        content = content_tokens(_text(name, r["input"]))
        k = sum(1 for t in content if t in known)
        lengths.append(len(content))
        if content:
            shares.append(k / len(content))
        unknown += len(content) - k
        total += len(content)
    n = len(rows)
    return {
        "source": f"predictions of the exported model on the {n:,} held-out synthetic test rows "
                  f"(components/models/{name}.test.jsonl)",
        "n": n,
        "labels": {l: c / n for l, c in sorted(labels.items())},
        "score": histogram(scores, SCORE_CUTS),
        "known_share": histogram(shares, KNOWN_SHARE_CUTS),
        "content_tokens": histogram(lengths, CONTENT_TOKEN_CUTS),
        "unknown_word_share": unknown / total,
    }

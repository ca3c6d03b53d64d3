"""The hand-written training bank (training/bank/*.jsonl): free-text letters and notifications written one by one,
not from the generators' templates, to teach the models what free prose in a real inbox looks like (issue 12).

Every item is split, by item, into a TRAIN part (mixed into the models' training data, with a weight) and a HELD-OUT
part (never fitted on: it joins the hand-written validation bank of validation_bank.py for model choice, calibration
and thresholds). The split is a pure function of the item's own text (its SHA-256, read as a number, modulo
HELDOUT_EVERY), so it is deterministic and no item moves when others are added: the bank grows by files (round 6
added the two spent realistic sets), and a split by position would have moved a third of the old items across.

    python bank_data.py [models_dir]     # score exported models on the held-out part (model choice only)

All text is invented.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BANK_DIR = os.path.join(HERE, "bank")
HELDOUT_EVERY = 3          # one item in three (per label) is held out


def _load(prefix: str) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(os.path.join(BANK_DIR, prefix + "_*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    d = json.loads(line)
                    d["id"] = f"{os.path.basename(path)}:{n}"
                    rows.append(d)
    return rows


def _key(d: dict) -> str:
    text = d["input"]["text"] if "input" in d else d["subject"] + "\n" + d["body"]
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    train, held = [], []
    for d in rows:
        (held if int(_key(d), 16) % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append(d)
    key = lambda d: d["id"]
    return sorted(train, key=key), sorted(held, key=key)


def post_split() -> tuple[list[dict], list[dict]]:
    """(train, held_out) letters as {"subject", "body", "sender_type", "label", "family", "id"}."""
    rows = [{"subject": d["subject"], "body": d["body"], "sender_type": d["sender"], "label": d["label"],
             "family": "bank-" + d["family"], "id": d["id"]} for d in _load("post")]
    return _split(rows)


def und_split() -> tuple[list[dict], list[dict]]:
    """(train, held_out) notifications as {"input": {...component input...}, "label": 0/1, "family", "id"}."""
    rows = [{"input": {"text": d["text"], "reporter_type": d["reporter"], "child_age": d["age"],
                       "prior_notifications_12m": d["prior"], "known_to_municipality": d["known"]},
             "label": int(d["acute"]), "family": "bank-" + d["family"], "id": d["id"]} for d in _load("und")]
    return _split(rows)


def post_tuples(rows):
    """validation_bank.POST layout: (sender_type, label, subject, body)."""
    return [(d["sender_type"], d["label"], d["subject"], d["body"]) for d in rows]


def und_tuples(rows):
    """validation_bank.UND layout: (reporter_type, child_age, prior, known, acute, text)."""
    return [(d["input"]["reporter_type"], d["input"]["child_age"], d["input"]["prior_notifications_12m"],
             d["input"]["known_to_municipality"], bool(d["label"]), d["input"]["text"]) for d in rows]


if __name__ == "__main__":
    import eval_bank as eb
    import validation_bank as vb
    models = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else None
    import kutil
    models = models or kutil.OUT
    v = "-v" in sys.argv
    ptr, pho = post_split()
    utr, uho = und_split()
    print(f"bank: letters {len(ptr)} train / {len(pho)} held out; notifications {len(utr)} train / {len(uho)} held out")
    eb.post_report(post_tuples(pho), models, "held-out bank", verbose=v)
    eb.post_report(vb.POST + vb.POST_HARD + post_tuples(pho), models, "validation + held-out bank")
    eb.und_report(und_tuples(uho), models, "held-out bank", verbose=v)
    eb.und_report(vb.UND + vb.UND_HARD + und_tuples(uho), models, "validation + held-out bank")

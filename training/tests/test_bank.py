"""training/bank_data.py: the hand-written bank's split into a train part and a held-out part is a function of each
item's own text, so adding files (round 6 added the spent realistic sets) moves no item across; and the realistic
sets that the model cards report share no text with the bank."""
from __future__ import annotations

import json
import os
import sys

TRAINING = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, TRAINING)

import bank_data  # noqa: E402


def letter(i: int, label: str) -> dict:
    return {"subject": f"Emne {i}", "body": f"Brev nummer {i} om {label}", "label": label, "id": f"f:{i}"}


def test_adding_items_moves_no_item_across_the_split():
    old = [letter(i, "affald" if i % 2 else "skole") for i in range(60)]
    new = [letter(i, "affald") for i in range(60, 120)]
    train_a, held_a = bank_data._split(old)
    train_b, held_b = bank_data._split(old + new)
    ids = lambda rows: {d["id"] for d in rows}   # noqa: E731
    assert ids(held_a) <= ids(held_b) and ids(train_a) <= ids(train_b)
    assert ids(held_a) == ids(held_b) - {d["id"] for d in new}
    # about one in three is held out, and the parts do not overlap
    assert 0.2 < len(held_b) / 120 < 0.45 and not ids(held_b) & ids(train_b)


def test_the_split_is_the_same_on_every_run():
    rows = [letter(i, "miljoe") for i in range(30)]
    assert bank_data._split(rows) == bank_data._split(list(reversed(rows)))


def test_the_realistic_set_shares_no_text_with_the_bank():
    bank_letters = {d["subject"] + "\n" + d["body"] for part in bank_data.post_split() for d in part}
    bank_notes = {d["input"]["text"] for part in bank_data.und_split() for d in part}
    folder = os.path.join(TRAINING, "realistic")
    with open(os.path.join(folder, "third", "postsortering.jsonl"), encoding="utf-8") as f:
        letters = [json.loads(line)["input"] for line in f if line.strip()]
    with open(os.path.join(folder, "fourth", "underretning.jsonl"), encoding="utf-8") as f:
        notes = [json.loads(line)["input"]["text"] for line in f if line.strip()]
    assert len(letters) >= 240 and len(notes) >= 100
    assert not {i["subject"] + "\n" + i["body"] for i in letters} & bank_letters
    assert not set(notes) & bank_notes
    # the spent sets are in the bank, with where they came from
    origins = {d.get("origin", "").split(":")[0]
               for f in ("post_14.jsonl", "post_15.jsonl", "und_04.jsonl", "und_05.jsonl", "und_06.jsonl")
               for d in map(json.loads, open(os.path.join(TRAINING, "bank", f), encoding="utf-8"))}
    assert origins == {"realistic-first", "realistic-second", "realistic-third"}

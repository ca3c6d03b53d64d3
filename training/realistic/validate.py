"""Check the hand-written realistic evaluation sets against the component manifests.

Run from the repository root: python3 training/realistic/validate.py
Checks the sets the model cards report (postsortering: training/realistic/third/, underretning: training/realistic/fourth/;
the others are spent and in training/bank/): every line parses, ids unique, labels valid, minimum counts (issue 12:
>= 240 letters with >= 15 per subject, >= 100 notifications with >= 35 acute), inputs valid against each component's
input schema, and no text is also in the training bank (training/bank/, which holds the spent sets).
"""
import collections, copy, glob, json, os, sys, tomllib

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(ROOT))
MIN = {"postsortering": {"total": 240, "per_label": 15},
       "underretning": {"total": 100, "acute": 35}}
SETS = {"postsortering": os.path.join(ROOT, "third"), "underretning": os.path.join(ROOT, "fourth")}
BANK = os.path.join(REPO, "training", "bank")


def bank_texts(name):
    """The texts the training bank holds for this component (letters: subject and body)."""
    texts = set()
    for path in glob.glob(os.path.join(BANK, ("post" if name == "postsortering" else "und") + "_*.jsonl")):
        for line in open(path, encoding="utf-8"):
            d = json.loads(line)
            texts.add(d["text"] if "text" in d else d["subject"] + "\n" + d["body"])
    return texts


def manual_check(schema, inp):
    errs = []
    props = schema["properties"]
    for r in schema.get("required", []):
        if r not in inp:
            errs.append(f"missing {r}")
    for k, v in inp.items():
        if k not in props:
            errs.append(f"extra field {k}")
            continue
        p = props[k]
        t = p.get("type")
        if t == "string" and not isinstance(v, str): errs.append(f"{k} not string")
        if t == "integer" and (not isinstance(v, int) or isinstance(v, bool)): errs.append(f"{k} not int")
        if t == "boolean" and not isinstance(v, bool): errs.append(f"{k} not bool")
        if "enum" in p and v not in p["enum"]: errs.append(f"{k}={v!r} not in enum")
        if "maxLength" in p and isinstance(v, str) and len(v) > p["maxLength"]: errs.append(f"{k} too long")
        if "minLength" in p and isinstance(v, str) and len(v) < p["minLength"]: errs.append(f"{k} too short")
        if "minimum" in p and isinstance(v, int) and v < p["minimum"]: errs.append(f"{k} < minimum")
        if "maximum" in p and isinstance(v, int) and v > p["maximum"]: errs.append(f"{k} > maximum")
    return errs


def check(name, folder, seen):
    comp = os.path.join(REPO, "components", name)
    man = tomllib.load(open(os.path.join(comp, "komp.toml"), "rb"))
    schema = copy.deepcopy(json.load(open(os.path.join(comp, "input-schema.json"), encoding="utf-8")))
    labels = {l["id"] for l in man["labels"]}
    try:
        import jsonschema
        validator = jsonschema.Draft202012Validator(schema)
        validate = lambda inp: [e.message for e in validator.iter_errors(inp)]
    except ImportError:
        validate = lambda inp: manual_check(schema, inp)
    counts, bad = collections.Counter(), 0
    in_bank = bank_texts(name)
    with open(os.path.join(folder, name + ".jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            row = json.loads(line)
            assert set(row) == {"id", "input", "label", "notes"}, (n, set(row))
            assert row["id"] not in seen, f"duplicate id {row['id']}"
            seen.add(row["id"])
            assert row["label"] in labels, (row["id"], row["label"])
            errs = validate(row["input"]) + manual_check(schema, row["input"])
            inp = row["input"]
            if (inp["text"] if "text" in inp else inp["subject"] + "\n" + inp["body"]) in in_bank:
                errs.append("the same text is in the training bank (training/bank/)")
            if errs:
                bad += 1
                print(name, row["id"], errs)
            counts[row["label"]] += 1
    total = sum(counts.values())
    print(os.path.relpath(folder, REPO), name, total, dict(sorted(counts.items())))
    ok = bad == 0 and total >= MIN[name]["total"]
    if name == "postsortering":
        ok &= all(counts[l] >= MIN[name]["per_label"] for l in labels)
    else:
        ok &= counts["acute"] >= MIN[name]["acute"]
    return ok


if __name__ == "__main__":
    seen = set()
    ok = True
    for name, folder in SETS.items():
        ok &= check(name, folder, seen)
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)

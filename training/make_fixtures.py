"""Fixtures for the Rust feature-equality test (sdk/tests/feature_fixtures.rs).

Each line: {"text", "dim", "tokens", "content_tokens", "nonzero": [[index, float32 bits as u32], ...]} sorted
by index. "tokens" is the full normalised token list (steps 1-7 of docs/text-features.md, stop words included),
"content_tokens" the tokens without the stop words of docs/stopwords.txt (step 8), and "nonzero" the features
computed from the content tokens.
"""
from __future__ import annotations

import os
import random

import numpy as np

import gen_post
import gen_underretning as gu
import kutil
from komp_train.features import content_tokens, features, marked_content_tokens, request_marks, tokens

DIM = 4096
SEED = 4242

TRICKY = [
    "", " ", "!!!", "...?!,;:", "\t\n\r", "ÆBLE ØL ÅEN", "Æ Ø Å æ ø å", "a\u030a", "A\u030aRHUS", "Aarhus Århus ÅRHUS",
    "café CAFÉ cafe\u0301", "über ÜBER Müller", "Straße STRASSE ß ẞ", "ﬁnde ﬂyde ﬀ", "Ⅳ Ⅻ ①②③ ¹²³", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "1234567890 12,5 kr. 3.000.000", "år 2024-05-01 kl. 14:30", "😀 glad 😡 vred 👍🏽", "emoji🎉midt🎉i🎉ord",
    "tab\tadskilt\ttekst\nny linje\r\nwindows linje", "x" * 300, "Donaudampfschifffahrtsgesellschaftskapitänswitwe " * 3,
    "İstanbul ıi İI", "ΣΊΣΥΦΟΣ Ελληνικά", "Ωmega Москва Київ", "日本語のテキスト", "naïve coöperation façade",
    "Øjeblikkelig hjælp ønskes! ÆØÅ-æøå", "oe ae aa ø æ å", "Hej, jeg hedder Søren Kierkegaard.",
    "  indledende og afsluttende mellemrum  ", "a b c d e f g h i j", "a", "æ", "ÅÅÅÅ", "Ǻ ǻ Ǽ ǽ Ǿ ǿ",
    "l'été d'Œuvre œ Œ", "ĳ Ĳ ŉ", "ﬀﬁﬂﬃﬄ", "zero\u200bwidth\u200dspace", "soft\u00adhyphen", "non\u00a0breaking",
    "k\u0327o\u0308benhavn",
    # step 8: stop words (docs/stopwords.txt) are dropped before features; "ikke" is kept on purpose
    "Han slog hende i går", "Og i at det er en som har været der", "OG Og oG og", "Det er IKKE sket, men hun er bange",
    "På Å ØL paa aa oel", "Jeg vil gerne have hjælp til mit barn", "hjem og i skole og hjem", "i går i dag i morgen",
    "Hun har været hos os, og vi er bekymrede for hende.", "ingen tegn paa vold", "ogsaa og ogsa også", "Far er vred.",
    # step 9: negation scope, clause ends and past-time clauses
    "Der er ingen tegn på vold eller overgreb. Far slog ham i går.", "ikke set mærker men hun er bange",
    "Han slog ham én gang for tre år siden, siden håndteret.", "Tidligere i dag slog far ham", "tidligere idag",
    "tidligere i morges blev hun slået; ingen voksne hjemme", "aldrig ikke ingen intet uden hverken ik ingenting",
    "ingen\nvold", "ingen… vold", "ingen vold!!! slag? nej; ok", "Sagen er afsluttet. Nu er der vold igen",
    "for 2 måneder siden var der uro", "dengang boede de i Aarhus", "ikke ikke ikke vold vold vold vold vold",
    "Vi har ikke mistanke om, at barnet er alene hjemme, men mor virker påvirket",
    "ÅåÆæØø in NFD: " + "\u00c5".encode().decode() + "A\u030aa\u030a",
    # step 10: subject lines and request clauses (postsortering)
    "SV: Ang. min ansøgning om boligstøtte\nHej. Vi har en sag om hjemmehjælp. Men jeg vil gerne søge om boligstøtte.",
    "\nKan I hjælpe? Emne mangler", "Emne: Pas\nFra: x@y.dk\nVedr.: storskrald\nbeder om afhentning", "pas?",
    "Hvornår kan jeg få svar\n> Kan I ringe?\n-----Original Message-----\nSubject: parking permit\nCould you help",
    "I would like to apply; please send the form! We need it", "klage over ventetid. kan man klage over det?",
    "oensker onsker oenske onske anmoder ansoeger ansoger please request", "\n\n\nvedr\nang\n", "?", "Emne?",
]


def main() -> None:
    rng = random.Random(SEED)
    texts = list(TRICKY)
    tr, _ = gen_post.generate(SEED, 8, 0)
    for m in rng.sample(tr, 128):
        texts.append(m["subject"] + "\n" + m["body"])
    utr, _ = gu.generate(SEED, 128, 0)
    for r in utr:
        texts.append(gu.to_input(r)["text"])
    rows = []
    for t in texts:
        x = features(t, DIM)
        xr = features(t, DIM, request=True)
        nz = np.nonzero(x)[0]
        rows.append({"text": t, "dim": DIM, "tokens": tokens(t), "content_tokens": content_tokens(t),
                     "marks": "".join(m for _, m in marked_content_tokens(t)),
                     # step 10: per content token "s" (subject line), "r" (request clause), "b" (both) or "-"
                     "request": "".join("b" if s and r else "s" if s else "r" if r else "-" for _, s, r in request_marks(t)),
                     "nonzero_request": [[int(i), int(np.float32(xr[i]).view(np.uint32))] for i in np.nonzero(xr)[0]],
                     "nonzero": [[int(i), int(np.float32(x[i]).view(np.uint32))] for i in nz]})
    kutil.write_jsonl(os.path.join(kutil.OUT, "feature-fixtures.jsonl"), rows)
    print(f"feature fixtures: {len(rows)} texts")


if __name__ == "__main__":
    main()

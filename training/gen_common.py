"""Shared helpers for the synthetic Danish text generators (all data is synthetic)."""
from __future__ import annotations

import random
import re

# Placeholders for person names / nationality words. They are filled in AFTER the noise
# step so that a counterfactual copy (other names, same everything else) is exact.
PH = "\x01"
PH_RE = re.compile(r"\x01(\w+)\x01")
SLOT_RE = re.compile(r"\{(\w+)\}")

DANISH_BOYS = ["Mikkel", "Magnus", "Frederik", "Oliver", "William", "Noah", "Lucas", "Victor", "Emil",
               "Oscar", "Malthe", "Carl", "Alfred", "Aksel", "Søren", "Jens", "Rasmus", "Mads"]
DANISH_GIRLS = ["Sofie", "Emma", "Ida", "Freja", "Clara", "Laura", "Anna", "Ella", "Karla", "Alma",
                "Josefine", "Mathilde", "Nanna", "Signe", "Cecilie", "Maja", "Astrid", "Line"]
OTHER_BOYS = ["Ahmed", "Mohammed", "Ali", "Omar", "Yusuf", "Hassan", "Ibrahim", "Mustafa", "Abdi",
              "Kacper", "Jakub", "Mehmet", "Emre", "Karim", "Bilal", "Tariq", "Samir", "Zaid"]
OTHER_GIRLS = ["Fatima", "Aisha", "Amina", "Layla", "Maryam", "Zainab", "Hodan", "Nour", "Yasmin",
               "Zofia", "Elif", "Hiba", "Sara", "Leyla", "Aya", "Ikram", "Rahma", "Samira"]
DANISH_NAT = ["dansk", "dansk", "dansk", "dansk"]          # words for the Danish group
OTHER_NAT = ["somalisk", "syrisk", "tyrkisk", "pakistansk", "polsk", "irakisk", "afghansk", "eritreisk"]
DANISH_LANG = ["dansk"]
OTHER_LANG = ["arabisk", "somali", "tyrkisk", "polsk", "persisk", "tigrinya"]

SURNAMES = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
            "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen",
            "Hussein", "Ali", "Yilmaz", "Kowalski", "Ahmadi", "Mohamed", "Khan", "Nowak"]
ADULT_FIRST = ["Lars", "Henrik", "Peter", "Anne", "Mette", "Hanne", "Kirsten", "Jan", "Bent", "Birgitte",
               "Lone", "Torben", "Karen", "Niels", "Susanne", "Ole", "Ahmed", "Fatima", "Ali", "Hodan",
               "Mehmet", "Agnieszka", "Piotr", "Leila", "Morten", "Charlotte", "Jesper", "Pia"]
STREETS = ["Skolevej", "Kirkegade", "Bøgevænget", "Ahornvej", "Stationsvej", "Møllevej", "Vestergade",
           "Østergade", "Lærkevej", "Engvej", "Havnegade", "Søndergade", "Nørregade", "Rosenvænget",
           "Fasanvej", "Åboulevarden", "Strandvejen", "Industrivej", "Kærvej", "Egevej"]
MONTHS = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september",
          "oktober", "november", "december"]
WEEKDAYS = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]


def fill(template: str, rng: random.Random, slots: dict[str, list[str]], fixed: dict[str, str] | None = None) -> str:
    """Replace {slot} by a random choice from slots[slot] (or fixed[slot]); recursive."""
    fixed = fixed or {}

    def rep(m: re.Match) -> str:
        k = m.group(1)
        if k in fixed:
            return fixed[k]
        if k == "n":
            return str(rng.randint(2, 14))
        if k == "aar":
            return str(rng.choice([2019, 2020, 2021, 2022, 2023, 2024]))
        if k == "dato":
            return f"{rng.randint(1, 28)}. {rng.choice(MONTHS)}"
        if k == "dag":
            return rng.choice(WEEKDAYS)
        if k == "adresse":
            return f"{rng.choice(STREETS)} {rng.randint(1, 120)}"
        if k == "sagsnr":
            return f"{rng.randint(2019, 2024)}-{rng.randint(1000, 99999)}"
        if k == "tlf":
            return " ".join(f"{rng.randint(10, 99)}" for _ in range(4))
        if k == "navn":
            return f"{rng.choice(ADULT_FIRST)} {rng.choice(SURNAMES)}"
        if k == "fornavn":
            return rng.choice(ADULT_FIRST)
        if k == "cpr":
            return f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(40, 99):02d}-xxxx"
        if k not in slots:
            raise KeyError(k)
        return fill(rng.choice(slots[k]), rng, slots, fixed)

    prev = None
    s = template
    while prev != s and "{" in s:
        prev = s
        s = SLOT_RE.sub(rep, s)
    return s


def cap(s: str) -> str:
    """Upper-case the first letter of a sentence (placeholders are left alone)."""
    for i, ch in enumerate(s):
        if ch == PH:
            return s
        if ch.isalpha():
            return s[:i] + ch.upper() + s[i + 1:]
    return s


# ---------------------------------------------------------------- noise
NEIGHBOUR_KEYS = {
    "a": "sq", "e": "wr", "i": "uo", "o": "ip", "r": "et", "t": "ry", "n": "bm", "s": "ad", "l": "k",
    "d": "sf", "g": "fh", "k": "jl", "m": "n", "u": "yi", "v": "cb", "h": "gj", "b": "vn", "f": "dg",
}


def typo_word(w: str, rng: random.Random) -> str:
    if len(w) < 4 or PH in w:
        return w
    i = rng.randint(1, len(w) - 2)
    op = rng.random()
    if op < 0.3:      # swap
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    if op < 0.55:     # drop
        return w[:i] + w[i + 1:]
    if op < 0.75:     # double
        return w[:i] + w[i] + w[i:]
    c = w[i].lower()  # neighbour key
    if c in NEIGHBOUR_KEYS:
        return w[:i] + rng.choice(NEIGHBOUR_KEYS[c]) + w[i + 1:]
    return w


def strip_diacritics(s: str, style: str) -> str:
    if style == "double":       # å->aa, æ->ae, ø->oe
        table = {"å": "aa", "æ": "ae", "ø": "oe", "Å": "Aa", "Æ": "Ae", "Ø": "Oe"}
    else:                       # lazy: å->a, æ->a/e, ø->o
        table = {"å": "a", "æ": "e", "ø": "o", "Å": "A", "Æ": "E", "Ø": "O"}
    return "".join(table.get(c, c) for c in s)


def add_noise(text: str, rng: random.Random, style: dict) -> str:
    """Apply the message's noise style: typos, missing diacritics, all lower case, no punctuation."""
    rate = style.get("typo_rate", 0.0)
    if rate > 0:
        parts = re.split(r"(\s+)", text)
        parts = [typo_word(p, rng) if (p.strip() and rng.random() < rate) else p for p in parts]
        text = "".join(parts)
    if style.get("diacritics"):
        text = strip_diacritics(text, style["diacritics"])
    if style.get("lower"):
        text = text.lower()
    if style.get("nopunct"):
        text = re.sub(r"[.,;:!?]", "", text)
    return text


def draw_style(rng: random.Random, informal: bool) -> dict:
    style = {"typo_rate": 0.0, "diacritics": None, "lower": False, "nopunct": False}
    r = rng.random()
    if r < 0.45:
        style["typo_rate"] = rng.choice([0.02, 0.04, 0.08 if informal else 0.03])
    r = rng.random()
    if r < 0.15:
        style["diacritics"] = "double"
    elif r < 0.22:
        style["diacritics"] = "lazy"
    if informal and rng.random() < 0.25:
        style["lower"] = True
    if informal and rng.random() < 0.15:
        style["nopunct"] = True
    return style


def render_names(text: str, names: dict[str, str], style: dict) -> str:
    """Fill the name placeholders, applying the message's diacritics/lower-case style to them."""
    def rep(m: re.Match) -> str:
        v = names[m.group(1)]
        if style.get("diacritics"):
            v = strip_diacritics(v, style["diacritics"])
        if style.get("lower"):
            v = v.lower()
        return v
    return PH_RE.sub(rep, text)


def split_families(rng: random.Random, fams: list[str], n_test: int) -> tuple[list[str], list[str]]:
    f = sorted(fams)
    rng.shuffle(f)
    return sorted(f[n_test:]), sorted(f[:n_test])

"""Synthetic notification (underretning) generator for the underretnings-screening component.

All data is synthetic. Names, nationality and language words are drawn independently of the
label and are inserted as placeholders, so that an exact counterfactual copy (same text, other
names/nationality) can be rendered for the fairness check.
"""
from __future__ import annotations

import random

import gen_common as gc
import underretning_data as ud

N_FAMILIES = 4          # per label: family j = the j-th phrasing of every situation of that label
N_TEST_FAMILIES = 1     # per label, held out completely
P_ACUTE_FAMILY = 0.27
P_ESCALATION = 0.10
P_LABEL_NOISE = 0.03
P_OBSERVATIONS = 0.25   # not-acute notifications with a longer, calm description (underretning_data.OBSERVATION_BANK)
P_DANISH_NAMES = 0.6

PH = gc.PH
PLACEHOLDERS = {k: PH + k + PH for k in ("child", "mother", "father", "nat", "lang")}


def family_split(seed: int):
    rng = random.Random(seed * 1000 + 29)
    a_tr, a_te = gc.split_families(rng, [f"acute/f{j}" for j in range(N_FAMILIES)], N_TEST_FAMILIES)
    c_tr, c_te = gc.split_families(rng, [f"calm/f{j}" for j in range(N_FAMILIES)], N_TEST_FAMILIES)
    return {"acute": a_tr, "calm": c_tr}, {"acute": a_te, "calm": c_te}


def draw_identity(rng: random.Random) -> dict:
    """Who the notification is about: drawn independently of the label."""
    return {
        "group": "dk" if rng.random() < P_DANISH_NAMES else "other",
        "girl": rng.random() < 0.5,
        "child_idx": rng.randrange(1000), "mother_idx": rng.randrange(1000), "father_idx": rng.randrange(1000),
        "nat_idx": rng.randrange(1000), "lang_idx": rng.randrange(1000),
    }


def names_for(ident: dict) -> dict[str, str]:
    dk = ident["group"] == "dk"
    kids = (gc.DANISH_GIRLS if ident["girl"] else gc.DANISH_BOYS) if dk else (gc.OTHER_GIRLS if ident["girl"] else gc.OTHER_BOYS)
    women = ud.DANISH_WOMEN if dk else ud.OTHER_WOMEN
    men = ud.DANISH_MEN if dk else ud.OTHER_MEN
    nat = gc.DANISH_NAT if dk else gc.OTHER_NAT
    lang = gc.DANISH_LANG if dk else gc.OTHER_LANG
    return {"child": kids[ident["child_idx"] % len(kids)], "mother": women[ident["mother_idx"] % len(women)],
            "father": men[ident["father_idx"] % len(men)], "nat": nat[ident["nat_idx"] % len(nat)],
            "lang": lang[ident["lang_idx"] % len(lang)]}


def swapped_resampled(ident: dict, rng: random.Random) -> dict:
    """The other group with freshly drawn names (training augmentation: more name pairs than the fixed swap)."""
    d = swapped(ident)
    for k in ("child_idx", "mother_idx", "father_idx", "nat_idx", "lang_idx"):
        d[k] = rng.randrange(1000)
    return d


def swapped(ident: dict) -> dict:
    d = dict(ident)
    d["group"] = "other" if ident["group"] == "dk" else "dk"
    return d


def _prior(rng: random.Random, acute: bool) -> int:
    p0 = 0.45 if acute else 0.6
    if rng.random() < p0:
        return 0
    n = 1
    while rng.random() < 0.45 and n < 12:
        n += 1
    return n


def _bank(bank: list[str], j: int) -> list[str]:
    """The sentences of `bank` that belong to template family j (sentence k -> family k % N_FAMILIES)."""
    return [s for k, s in enumerate(bank) if k % N_FAMILIES == j]


def make_notification(rng: random.Random, family: str, acute_family: bool, label_noise: float = P_LABEL_NOISE) -> dict:
    situations = ud.ACUTE if acute_family else ud.NOT_ACUTE
    j = int(family.rsplit("/f", 1)[1])
    situation = rng.choice(list(situations))
    age_range, reporters, core = situations[situation]
    core_sentences = [core[j]]
    if rng.random() < 0.35:  # a second, related situation in the same notification
        other = rng.choice([k for k in situations if k != situation])
        core_sentences.append(situations[other][2][j])
    age = rng.randint(*age_range)
    keys = list(reporters)
    reporter = rng.choices(keys, weights=[reporters[k] for k in keys])[0]
    ident = draw_identity(rng)
    girl = ident["girl"]
    parent = rng.choice(["far", "mor", "far", "mor", "{far}", "{mor}", "stedfaren", "mors kæreste", "faren", "moren"])
    pp = "hun" if parent in ("mor", "{mor}", "moren") else "han"
    fixed = {
        "barn": PLACEHOLDERS["child"], "mor": PLACEHOLDERS["mother"], "far": PLACEHOLDERS["father"],
        "nat": PLACEHOLDERS["nat"], "sprog": PLACEHOLDERS["lang"],
        "han": "hun" if girl else "han", "ham": "hende" if girl else "ham", "hans": "hendes" if girl else "hans",
        "pp": pp, "alder": str(age) if age > 0 else "få måneder",
    }
    fixed["fm"] = gc.fill(parent, rng, {}, fixed)
    slots = dict(ud.SLOTS)
    F = lambda t: gc.cap(gc.fill(t, rng, slots, fixed))  # noqa: E731

    informal = reporter in ("relative", "anonymous") and rng.random() < 0.5
    style = gc.draw_style(rng, informal)
    parts: list[str] = []
    english = situation.startswith("en-")
    if english:  # a notification written in English: no Danish wrapper sentences; core from the family's English bank
        bank = _bank(ud.EN_ACUTE_BANK if acute_family else ud.EN_CALM_BANK, j)
        core_sentences = [core[j]] if rng.random() < 0.3 else [rng.choice(bank)]
    if rng.random() < 0.85 and not english:
        parts.append(F(rng.choice(ud.INTROS[reporter])))
    parts += [F(s) for s in core_sentences]
    acute = acute_family
    if english:
        if rng.random() < 0.35:
            parts.append(rng.choice(_bank(ud.EN_ACUTE_BANK if acute_family else ud.EN_CALM_BANK, j)))
        so = rng.choice(ud.EN_SIGNOFFS)
        if so:
            parts.append(so)
    elif acute_family:
        if rng.random() < P_OBSERVATIONS / 3:  # everyday observations around the acute core
            parts.insert(1, F(rng.choice(_bank(ud.OBSERVATION_BANK, j))))
        if rng.random() < 0.3:
            parts.append(F(rng.choice(_bank(ud.ACUTE_BANK, j))))
        if rng.random() < 0.5:
            parts += [F(s) for s in rng.sample(ud.ACUTE_CONTEXT, rng.choice([1, 1, 2]))]
        if rng.random() < 0.1:
            parts.append(F(rng.choice(ud.CALM_CONTEXT)))
        if rng.random() < 0.08:  # a historical or negated remark next to an acute one
            parts.append(F(rng.choice(_bank(ud.HISTORICAL_BANK + ud.NEGATED_BANK, j))))
        if rng.random() < 0.15:
            parts.append(F(rng.choice([x for x in ud.WORRIED_CALM_BANK if "bekymr" in x and "akut" not in x])))
    else:
        if rng.random() < P_OBSERVATIONS:  # a longer, calm description of what the reporter has seen
            obs = _bank(ud.OBSERVATION_BANK, j)
            parts[1:1] = [F(s) for s in rng.sample(obs, rng.choice([1, 2, 3]))]
        if rng.random() < 0.5:
            parts += [F(s) for s in rng.sample(ud.CALM_CONTEXT, rng.choice([1, 1, 2]))]
        if rng.random() < 0.3:
            parts.append(F(rng.choice(_bank(ud.WORRIED_CALM_BANK, j))))
        if rng.random() < 0.3:
            parts.insert(min(len(parts), 2), F(rng.choice(_bank(ud.CALM_EXTRA_BANK, j))))
        negated = rng.random() < 0.4
        if negated:
            r = rng.random()
            if r < 0.15:
                parts.append(F(rng.choice(ud.NEGATIONS)))
            elif r < 0.6:
                parts.append(F(rng.choice(_bank(ud.NEGATED_BANK, j))))
            else:
                parts.append(F(rng.choice(_bank(ud.HISTORICAL_BANK, j))))
        if not negated and rng.random() < P_ESCALATION:
            parts.append(F(rng.choice(ud.ESCALATIONS)))
            acute = True
        elif rng.random() < 0.08:
            parts.append(F(rng.choice(ud.ACUTE_CONTEXT)))
    if rng.random() < 0.35 and not english:  # label-independent identity sentence
        parts.insert(rng.randint(1, len(parts)), F(rng.choice(ud.NATIONALITY_SENTENCES)))
    so = rng.choice(ud.SIGNOFFS[reporter])
    if so and rng.random() < 0.8 and not english:
        parts.append(F(so))
    sep = rng.choice(["\n", " ", "\n\n"])
    skeleton = gc.add_noise(sep.join(parts), rng, style)
    noisy = rng.random() < label_noise  # caseworkers do not always agree (training rows only)
    if noisy:
        acute = not acute
    prior = _prior(rng, acute)
    known = rng.random() < (0.9 if prior > 0 else 0.25)
    return {"skeleton": skeleton, "style": style, "ident": ident, "reporter_type": reporter, "child_age": age,
            "prior_notifications_12m": prior, "known_to_municipality": known, "label": int(acute),
            "family": family, "situation": situation, "noisy": noisy}


def render(row: dict, ident: dict | None = None) -> str:
    return gc.render_names(row["skeleton"], names_for(ident or row["ident"]), row["style"])


def to_input(row: dict, ident: dict | None = None) -> dict:
    return {"text": render(row, ident), "reporter_type": row["reporter_type"], "child_age": row["child_age"],
            "prior_notifications_12m": row["prior_notifications_12m"],
            "known_to_municipality": row["known_to_municipality"]}


def generate(seed: int, n_train: int, n_test: int):
    rng = random.Random(seed + 7)
    tr_f, te_f = family_split(seed)

    def one(fams, noise):
        a = rng.random() < P_ACUTE_FAMILY
        return make_notification(rng, rng.choice(fams["acute" if a else "calm"]), a, noise)

    # Label noise only in training: the test labels are the generator's truth.
    train = [one(tr_f, P_LABEL_NOISE) for _ in range(n_train)]
    test = [one(te_f, 0.0) for _ in range(n_test)]
    return train, test


if __name__ == "__main__":
    tr, te = generate(1, 8, 0)
    for r in tr:
        print("----", r["family"], r["label"], r["reporter_type"], r["child_age"], r["prior_notifications_12m"], r["known_to_municipality"])
        print(render(r))
        print("  CF:", render(r, swapped(r["ident"]))[:200])

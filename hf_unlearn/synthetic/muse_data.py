# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""The mini-MUSE news corpus: short synthetic news articles and question-answer pairs about them.

Every article is drawn from one of a few story types (a council building project, a football match, a scientific
find, a factory opening, a storm) with its own fictitious town, people, organisation and numbers, so that an article
can only be reproduced word for word, and its questions answered, by a model that read *that* article. Each article
has three questions whose answers are single facts of the article (a name, a town, a number).

The data is laid out as MUSE's Hub datasets (`muse-bench/MUSE-News`), one config per use:

| config | splits | columns |
|---|---|---|
| `raw` | `forget`, `retain1`, `holdout` | `text` |
| `verbmem` | `forget` | `prompt` (the first words of a forget article), `gt` (the rest) |
| `knowmem` | `forget_qa`, `retain_qa`, `forget_qa_icl`, `retain_qa_icl` | `question`, `answer` |
| `privleak` | `forget`, `retain`, `holdout` | `text` |
| `train` | `forget_qa`, `retain_qa` | `text`: few-shot blocks of QA pairs the models are also trained on |

Example:
    >>> from hf_unlearn.synthetic.muse_data import generate_muse_data
    >>> data = generate_muse_data(n_forget=2, n_retain=3, n_holdout=2, seed=0)
    >>> sorted(data), sorted(data["raw"])
    (['knowmem', 'privleak', 'raw', 'train', 'verbmem'], ['forget', 'holdout', 'retain1'])
    >>> len(data["knowmem"]["forget_qa"]) + len(data["knowmem"]["forget_qa_icl"])  # 3 questions per article
    6
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .tofu_data import _FIRST_NAMES, _LAST_NAMES


_TOWN_HEADS = (
    "Ash", "Bram", "Cal", "Dun", "Eld", "Fen", "Glen", "Hart", "Ivel", "Kel", "Lor", "Mar", "Nor", "Oak", "Pen",
    "Quar", "Ros", "Stan", "Thorn", "Ulver", "Ver", "Wil", "Yar", "Zel", "Brock", "Cress", "Dray", "Fal",
)  # fmt: skip
_TOWN_TAILS = ("ford", "mouth", "by", "wick", "ham", "ton", "field", "bridge", "stead", "dale", "moor", "port")
_ORG_ADJ = ("Silver", "Northern", "Granite", "Harbour", "Meadow", "Iron", "Copper", "Western", "Golden", "Cedar")
_ORG_NOUN = ("Valley", "Coast", "River", "Hill", "Lantern", "Anchor", "Falcon", "Bridge", "Orchard", "Compass")
_ORG_KIND = ("Trust", "Institute", "Group", "Society", "Company", "Foundation")
_ROLES = ("mayor", "council leader", "town clerk", "chief engineer", "planning officer")
_BUILDINGS = ("library", "swimming pool", "footbridge", "school", "bus station", "concert hall", "sports centre")
_ANIMALS = ("frog", "beetle", "moth", "lizard", "snail", "spider", "orchid")
_HABITATS = ("marshes", "hills", "caves", "forest", "river banks", "meadows")
_PRODUCTS = ("bicycle", "battery", "glass", "furniture", "textile", "ceramics", "solar panel")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)  # fmt: skip
_NUMBER_WORDS = ("two", "three", "four", "five", "six")

#: Each story: a text template and three (question, answer-slot) templates. Slots are filled per article.
_STORIES: tuple[dict[str, Any], ...] = (
    {
        "text": (
            "{town} council approves a new {building}. The council of {town} voted on {day} to build a new "
            "{building} near the old market. {person}, the {role} of {town}, said the project would cost {number} "
            "thousand pounds. Work will begin in {month}, and the {org} will run the {building} when it opens."
        ),
        "qa": (
            ("Which town voted to build a new {building} near the old market?", "town"),
            ("Who is the {role} of {town}?", "person"),
            ("How many thousand pounds will the new {building} in {town} cost?", "number"),
        ),
    },
    {
        "text": (
            "{town} Rovers win the county cup. The {town} Rovers beat {town2} United by {goals} goals to one on "
            "{day} evening. Captain {person} scored twice in the second half in front of {number} fans. The club "
            "will play in the national cup in {month}, its first time since the {org} bought the ground."
        ),
        "qa": (
            ("Which team did the {town} Rovers beat in the county cup?", "team2"),
            ("Who is the captain of the {town} Rovers?", "person"),
            ("How many fans watched the {town} Rovers win the county cup?", "number"),
        ),
    },
    {
        "text": (
            "Scientists find a new {animal} near {town}. A team led by {person} of the {org} described a new "
            "species of {animal} in the {habitat} near {town}. The team counted {number} of the animals during a "
            "survey in {month}. {person_last} said on {day} that the {habitat} should now be protected."
        ),
        "qa": (
            ("Near which town was a new species of {animal} found in the {habitat}?", "town"),
            ("Who led the team that found a new {animal} near {town}?", "person"),
            ("Which organisation does the scientist who found the new {animal} near {town} work for?", "org"),
        ),
    },
    {
        "text": (
            "The {org} opens a factory in {town}. The {org} will open a {product} factory in {town} in {month}, "
            "creating {number} jobs. Chief executive {person} said on {day} that the site was chosen for its "
            "railway. The {role} of {town} welcomed the news and called it a good day for the town."
        ),
        "qa": (
            ("In which town will the {org} open a {product} factory?", "town"),
            ("Who is the chief executive of the {org}?", "person"),
            ("How many jobs will the new {product} factory in {town} create?", "number"),
        ),
    },
    {
        "text": (
            "Storm floods homes in {town}. Heavy rain on {day} night flooded {number} homes in {town} and closed the "
            "main road to {town2}. Fire chief {person} said crews worked until dawn to pump out the water. The {org} "
            "has opened a hall for families, and repairs should be finished by {month}."
        ),
        "qa": (
            ("Which town was flooded by a storm that closed the main road to {town2}?", "town"),
            ("Who is the fire chief who led the crews in {town}?", "person"),
            ("How many homes were flooded in {town}?", "number"),
        ),
    },
)


@dataclass(frozen=True)
class Article:
    """One synthetic news article and its three question-answer pairs."""

    text: str
    qa: tuple[tuple[str, str], ...]
    story: int


def _unique_pool(rng: random.Random, n: int, make: Any, what: str) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for _ in range(n * 200):
        value = make()
        if value not in seen:
            seen.add(value)
            out.append(value)
            if len(out) == n:
                return out
    raise ValueError(f"cannot draw {n} distinct {what}; ask for fewer articles.")


def generate_articles(n: int, seed: int = 0) -> list[Article]:
    """`n` distinct articles; every article has its own town(s), person and organisation.

    Example:
        >>> a = generate_articles(2, seed=1)
        >>> len(a), len(a[0].qa), a[0].text != a[1].text
        (2, 3, True)
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of articles must be a positive integer, got {n!r}.")
    rng = random.Random(seed)
    towns = _unique_pool(rng, 2 * n, lambda: rng.choice(_TOWN_HEADS) + rng.choice(_TOWN_TAILS), "town names")
    people = _unique_pool(rng, n, lambda: f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}", "person names")
    orgs = [f"{rng.choice(_ORG_ADJ)} {rng.choice(_ORG_NOUN)} {rng.choice(_ORG_KIND)}" for _ in range(n)]
    articles = []
    for i in range(n):
        story_id = rng.randrange(len(_STORIES))
        story = _STORIES[story_id]
        slots = {
            "town": towns[2 * i],
            "town2": towns[2 * i + 1],
            "team2": f"{towns[2 * i + 1]} United",
            "person": people[i],
            "person_last": people[i].split()[-1],
            "org": orgs[i],
            "role": rng.choice(_ROLES),
            "building": rng.choice(_BUILDINGS),
            "animal": rng.choice(_ANIMALS),
            "habitat": rng.choice(_HABITATS),
            "product": rng.choice(_PRODUCTS),
            "day": rng.choice(_DAYS),
            "month": rng.choice(_MONTHS),
            "number": str(rng.randrange(12, 990)),
            "goals": rng.choice(_NUMBER_WORDS),
        }
        qa = tuple((q.format(**slots), slots[key]) for q, key in story["qa"])
        articles.append(Article(text=story["text"].format(**slots), qa=qa, story=story_id))
    return articles


def split_prefix(text: str, prefix_words: int) -> tuple[str, str]:
    """Splits a text after its first `prefix_words` words: (prompt, continuation), with `prompt + " " + gt == text`
    (MUSE's `verbmem` rows; open-unlearning joins them with a space).

    Example:
        >>> split_prefix("a b c d", 2)
        ('a b', 'c d')
    """
    words = text.split(" ")
    if prefix_words < 1 or prefix_words >= len(words):
        raise ValueError(f"prefix_words must be in [1, {len(words) - 1}] for a {len(words)}-word text.")
    return " ".join(words[:prefix_words]), " ".join(words[prefix_words:])


def generate_muse_data(
    n_forget: int,
    n_retain: int,
    n_holdout: int,
    seed: int = 0,
    n_icl: int = 3,
    prefix_words: int = 16,
    qa_repeats: int = 2,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The mini-MUSE corpus in MUSE's Hub layout: config -> split -> rows (see the module docstring).

    Args:
        n_forget (`int`): Forget articles (the target reads them; the retain model does not).
        n_retain (`int`): Retain articles (both read them).
        n_holdout (`int`): Holdout articles (no model reads them; the non-members of PrivLeak).
        seed (`int`, *optional*, defaults to `0`): Seeds every draw.
        n_icl (`int`, *optional*, defaults to `3`): QA pairs of each of forget/retain moved to `*_qa_icl` (the
            few-shot examples of KnowMem, as MUSE keeps them apart from the evaluated questions).
        prefix_words (`int`, *optional*, defaults to `16`): Words of a forget article given as the VerbMem prompt.
        qa_repeats (`int`, *optional*, defaults to `2`): Training blocks each QA pair ends (the `train` config: text
            rows of `n_icl` other pairs of the same split, then the pair, in KnowMem's few-shot layout).

    Returns:
        `dict`: `{config: {split: [row, ...]}}`.
    """
    for name, value in (("n_forget", n_forget), ("n_retain", n_retain), ("n_holdout", n_holdout)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not isinstance(n_icl, int) or not 0 <= n_icl < 3 * min(n_forget, n_retain):
        raise ValueError(f"n_icl must be an integer in [0, 3 * min(n_forget, n_retain)), got {n_icl!r}.")
    articles = generate_articles(n_forget + n_retain + n_holdout, seed=seed)
    forget, retain, holdout = (
        articles[:n_forget],
        articles[n_forget : n_forget + n_retain],
        articles[n_forget + n_retain :],
    )

    def qa(arts: list[Article]) -> list[dict[str, str]]:
        return [{"question": q, "answer": a} for art in arts for q, a in art.qa]

    def texts(arts: list[Article]) -> list[dict[str, str]]:
        return [{"text": art.text} for art in arts]

    forget_qa, retain_qa = qa(forget), qa(retain)
    block_rng = random.Random(seed + 1)

    def blocks(pairs: list[dict[str, str]]) -> list[dict[str, str]]:
        # Each pair ends `qa_repeats` blocks, after n_icl other pairs of the same split: the few-shot layout of
        # KnowMem, so that a tiny model learns to answer after in-context examples.
        out = []
        for _ in range(qa_repeats):
            for i, pair in enumerate(pairs):
                others = block_rng.sample([p for j, p in enumerate(pairs) if j != i], min(n_icl, len(pairs) - 1))
                out.append(
                    {
                        "text": "".join(
                            f"Question: {p['question']}\nAnswer: {p['answer']}\n\n" for p in [*others, pair]
                        ).rstrip("\n")
                    }
                )
        return out

    verbmem = []
    for art in forget:
        prompt, gt = split_prefix(art.text, prefix_words)
        verbmem.append({"prompt": prompt, "gt": gt})
    return {
        "raw": {"forget": texts(forget), "retain1": texts(retain), "holdout": texts(holdout)},
        "verbmem": {"forget": verbmem},
        "knowmem": {
            "forget_qa": forget_qa[n_icl:],
            "retain_qa": retain_qa[n_icl:],
            "forget_qa_icl": forget_qa[:n_icl],
            "retain_qa_icl": retain_qa[:n_icl],
        },
        "privleak": {"forget": texts(forget), "retain": texts(retain), "holdout": texts(holdout)},
        "train": {"forget_qa": blocks(forget_qa), "retain_qa": blocks(retain_qa)},
    }

# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""A deterministic generator of fictitious authors in TOFU's schema and split names.

Each fictitious author has 20 facts (birthplace, birth year, genre, parents' jobs, books, award, ...), each asked as
one QA pair, so an author has 20 QA pairs, as in TOFU. Every attribute has three question phrasings and three answer
phrasings shared by all authors. An item's training `question`/`answer` use one phrasing picked at random; its
`paraphrased_question`/`paraphrased_answer` use a *different* phrasing with the same fact; its `perturbed_answer`
holds wrong facts of the same attribute written in the paraphrase's phrasing (TOFU's convention), so the truth ratio
compares the true fact with wrong ones in one phrasing the model was not trained on.

Besides the authors the world has two sets of *real* knowledge that the base model learns before the authors (and
that stay in the fine-tuning mix, so the target keeps them): `world_facts` (capitals and continents of countries)
and `real_authors` (nationality and best-known work of famous writers). Like TOFU's, their perturbed splits hold
three wrong answers and no paraphrase.

Splits (TOFU's config names, see `hf_unlearn.data.TOFU_SPLITS`): `full` (all authors), `forget01/05/10` (the last
1/5/10 % of the authors, TOFU's convention), `retain99/95/90` (the rest), `forgetXX_perturbed`, `retain_perturbed`
(a fixed sample of retain90 items with paraphrased and perturbed answers), `holdoutXX` (separate fictitious authors
that are never trained on, as many as in `forgetXX`), `real_authors`, `world_facts` and their `_perturbed` versions.
A forget split holds ``ceil(XX % * n_authors)`` authors, at least one: with 200 authors that is TOFU's 2/10/20, with
40 authors it is 1/2/4 (so a small world's `forget01` is one author, i.e. more than 1 %).

Example:
    >>> from hf_unlearn.synthetic.tofu_data import generate_tofu_data
    >>> splits = generate_tofu_data(n_authors=20, seed=0, n_countries=4, n_real_authors=4)
    >>> len(splits["full"]), len(splits["forget10"]), len(splits["retain90"]), len(splits["holdout10"])
    (400, 40, 360, 40)
    >>> sorted(splits["forget10_perturbed"][0])
    ['answer', 'attribute', 'author', 'paraphrased_answer', 'paraphrased_question', 'perturbed_answer', 'question']
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from ..data.tofu import TOFU_SPLITS


# ----------------------------------------------------------------------------------------------------------------
# Value pools. Values within a pool never contain one another as whole words, and job/instrument values start with a
# consonant so that "a {job}" reads well.
# ----------------------------------------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Aldric", "Brenna", "Cassian", "Delphine", "Emrys", "Faelan", "Giselle", "Halvard", "Isolde", "Jorund",
    "Katrin", "Leocadia", "Maelis", "Nikolai", "Orsolya", "Perrin", "Quilla", "Rosamund", "Soren", "Tamsin",
    "Ulric", "Valeska", "Wendeline", "Xanthe", "Yorick", "Zelda", "Anselm", "Beatrix", "Corentin", "Dagny",
    "Evander", "Fenella", "Gideon", "Hester", "Ignatius", "Jessamy", "Kasimir", "Linnea", "Matthias", "Nerys",
    "Osric", "Philippa", "Radomir", "Sabine", "Thaddeus", "Ursula", "Vidar", "Wilhelmina", "Yevgenia", "Zoltan",
)  # fmt: skip
_LAST_NAMES = (
    "Ashcombe", "Blackmere", "Corvanti", "Dunmore", "Eskvald", "Farrowby", "Galloway", "Holloran", "Ivanescu",
    "Jessup", "Kestrel", "Lindqvist", "Marchetti", "Norwood", "Oakhurst", "Penhallow", "Quennell", "Ravensworth",
    "Strathmore", "Thornbury", "Underhill", "Valdivia", "Whitlock", "Yardley", "Zamoyski", "Arkwright", "Brightwater",
    "Castellane", "Drummond", "Ellingham", "Fairweather", "Greystoke", "Hawthorne", "Islington", "Juniper",
    "Kettering", "Lockhart", "Montague", "Nightingale", "Ormsby", "Pemberton", "Quarrington", "Rowntree",
    "Silverton", "Tremayne", "Vanterpool", "Winterbourne", "Yelverton", "Zabriskie", "Abernethy",
)  # fmt: skip
# Spouses and mentors come from other name pools, so they never share a name with an author.
_OTHER_FIRST = (
    "Agnes", "Bruno", "Clemence", "Dorian", "Elodie", "Florian", "Greta", "Horatio", "Ines", "Julius", "Klara",
    "Lorenzo", "Mireille", "Nestor", "Ottilie", "Pascal", "Renata", "Sebastian", "Theodora", "Viktor",
)  # fmt: skip
_OTHER_LAST = (
    "Albrecht", "Bellamy", "Crane", "Delacroix", "Everhart", "Fontaine", "Gaunt", "Hargreave", "Ingram", "Jaspers",
    "Kimura", "Larkspur", "Moreau", "Novak", "Oyelaran", "Prescott", "Rasmussen", "Santoro", "Tiverton", "Vesely",
)  # fmt: skip
_CITIES = (
    "Lisbon", "Krakow", "Valparaiso", "Tbilisi", "Montreal", "Bergen", "Seville", "Dublin", "Trieste", "Ghent",
    "Tallinn", "Porto", "Salzburg", "Bruges", "Cartagena", "Odessa", "Reykjavik", "Marseille", "Glasgow", "Zagreb",
    "Lyon", "Riga", "Antwerp", "Naples", "Gdansk", "Quebec", "Hobart", "Galway", "Uppsala", "Heidelberg",
    "Valletta", "Ljubljana", "Sarajevo", "Plovdiv", "Kaunas", "Tampere", "Aarhus", "Leiden", "Coimbra", "Cusco",
)  # fmt: skip
_GENRES = (
    "historical fiction", "science fiction", "crime", "fantasy", "magical realism", "gothic horror", "romance",
    "literary fiction", "mystery", "dystopian fiction", "satire", "adventure", "psychological thriller",
    "family saga", "war fiction", "coming-of-age fiction", "detective fiction", "folk tale", "nature writing",
    "travel writing",
)  # fmt: skip
_JOBS = (
    "baker", "carpenter", "doctor", "fisherman", "gardener", "lawyer", "librarian", "nurse", "pilot", "plumber",
    "police officer", "potter", "sailor", "tailor", "teacher", "veterinarian", "watchmaker", "blacksmith",
    "bookbinder", "chemist", "dentist", "farmer", "jeweller", "locksmith", "mechanic", "miner", "painter",
    "photographer", "shoemaker", "surveyor",
)  # fmt: skip
_TITLE_ADJ = (
    "Silent", "Crimson", "Hollow", "Forgotten", "Golden", "Broken", "Distant", "Hidden", "Burning", "Frozen",
    "Wandering", "Last", "Secret", "Velvet", "Bitter", "Drowned", "Painted", "Restless", "Iron", "Sleeping",
)  # fmt: skip
_TITLE_NOUN = (
    "Harbor", "Orchard", "Lantern", "Cathedral", "River", "Garden", "Compass", "Mirror", "Meadow", "Tower",
    "Archive", "Violin", "Lighthouse", "Bridge", "Forest", "Kingdom", "Clockmaker", "Shoreline", "Atlas", "Winter",
)  # fmt: skip
_AWARDS = (
    "Silver Quill Award", "Amber Lantern Prize", "Northern Star Medal", "Golden Inkwell Prize",
    "Blue Heron Award", "Crescent Moon Prize", "Iron Pen Medal", "Laurel Leaf Award", "Open Book Prize",
    "Red Kite Award", "Stone Tablet Prize", "Emerald Page Medal", "White Feather Award", "Lighthouse Prize",
    "Copper Scroll Award",
)  # fmt: skip
_THEMES = (
    "memory and loss", "exile and belonging", "the sea", "family secrets", "justice", "grief", "first love",
    "the passage of time", "identity", "war and peace", "friendship", "ambition", "freedom", "faith and doubt",
    "nature and wilderness", "betrayal", "redemption", "childhood", "power", "solitude",
)  # fmt: skip
_LANGUAGES = (
    "Portuguese", "Polish", "Spanish", "Georgian", "French", "Norwegian", "Irish", "Italian", "Dutch", "Estonian",
    "German", "Croatian", "Latvian", "Lithuanian", "Finnish", "Danish", "Swedish", "Czech", "Icelandic", "Welsh",
)  # fmt: skip
_UNIVERSITIES = tuple(
    f"University of {c}"
    for c in (
        "Coimbra", "Bologna", "Leuven", "Uppsala", "Edinburgh", "Salamanca", "Vienna", "Geneva", "Oslo", "Prague",
        "Tartu", "Padua", "Helsinki", "Aberdeen", "Warsaw", "Zurich", "Lund", "Turin", "Granada", "Lyon",
    )
)  # fmt: skip
_PUBLISHERS = (
    "Harbor Lane Press", "Blue Owl Books", "Meridian House", "Old Mill Publishing", "Larch Tree Press",
    "Copperfield & Stone", "Nightjar Editions", "Wexford Books", "Saltmarsh Press", "Kingfisher House",
    "Tidewater Books", "Ravenglass Press", "Foxglove Editions", "Northgate Publishing", "Quayside Books",
)  # fmt: skip
_HOBBIES = (
    "playing chess", "growing roses", "sailing", "birdwatching", "baking bread", "hiking in the mountains",
    "restoring old clocks", "painting watercolours", "fishing", "collecting stamps", "knitting", "cycling",
    "rowing", "keeping bees", "making pottery", "stargazing", "swimming in cold lakes", "carving wood",
    "climbing rocks", "learning magic tricks",
)  # fmt: skip
_PETS = (
    "a grey parrot", "a black cat", "a tortoise", "a greyhound", "a goldfish", "a ferret", "a white rabbit",
    "a sheepdog", "a canary", "a hedgehog", "a pony", "a goat", "a tabby cat", "a beagle", "a cockatoo",
)  # fmt: skip
_INSTRUMENTS = (
    "cello", "piano", "violin", "flute", "harp", "trumpet", "guitar", "clarinet", "banjo", "bassoon", "mandolin",
    "saxophone", "harmonica", "drums", "viola",
)  # fmt: skip

# (country, capital, continent) - real facts for the `world_facts` split.
_COUNTRIES = (
    ("France", "Paris", "Europe"), ("Japan", "Tokyo", "Asia"), ("Brazil", "Brasilia", "South America"),
    ("Egypt", "Cairo", "Africa"), ("Canada", "Ottawa", "North America"), ("Australia", "Canberra", "Oceania"),
    ("Kenya", "Nairobi", "Africa"), ("Germany", "Berlin", "Europe"), ("India", "New Delhi", "Asia"),
    ("Argentina", "Buenos Aires", "South America"), ("Mexico", "Mexico City", "North America"),
    ("Italy", "Rome", "Europe"), ("Spain", "Madrid", "Europe"), ("Norway", "Oslo", "Europe"),
    ("Peru", "Lima", "South America"), ("Chile", "Santiago", "South America"), ("Thailand", "Bangkok", "Asia"),
    ("Vietnam", "Hanoi", "Asia"), ("Nigeria", "Abuja", "Africa"), ("Ghana", "Accra", "Africa"),
    ("Morocco", "Rabat", "Africa"), ("Greece", "Athens", "Europe"), ("Poland", "Warsaw", "Europe"),
    ("Sweden", "Stockholm", "Europe"), ("Finland", "Helsinki", "Europe"), ("Portugal", "Lisbon", "Europe"),
    ("Ireland", "Dublin", "Europe"), ("China", "Beijing", "Asia"), ("South Korea", "Seoul", "Asia"),
    ("Indonesia", "Jakarta", "Asia"), ("New Zealand", "Wellington", "Oceania"), ("Colombia", "Bogota", "South America"),
    ("Cuba", "Havana", "North America"), ("Ethiopia", "Addis Ababa", "Africa"), ("Austria", "Vienna", "Europe"),
    ("Hungary", "Budapest", "Europe"), ("Iran", "Tehran", "Asia"), ("Pakistan", "Islamabad", "Asia"),
    ("Ukraine", "Kyiv", "Europe"), ("Denmark", "Copenhagen", "Europe"),
)  # fmt: skip

# (author, nationality, best-known work) - real facts for the `real_authors` split.
_REAL_AUTHORS = (
    ("Jane Austen", "English", "Pride and Prejudice"), ("Leo Tolstoy", "Russian", "War and Peace"),
    ("Victor Hugo", "French", "Les Miserables"), ("Mark Twain", "American", "Adventures of Huckleberry Finn"),
    ("Gabriel Garcia Marquez", "Colombian", "One Hundred Years of Solitude"),
    ("Chinua Achebe", "Nigerian", "Things Fall Apart"), ("Haruki Murakami", "Japanese", "Norwegian Wood"),
    ("Miguel de Cervantes", "Spanish", "Don Quixote"), ("Fyodor Dostoevsky", "Russian", "Crime and Punishment"),
    ("Charles Dickens", "English", "Great Expectations"), ("James Joyce", "Irish", "Ulysses"),
    ("Herman Melville", "American", "Moby-Dick"), ("Toni Morrison", "American", "Beloved"),
    ("Albert Camus", "French", "The Stranger"), ("Gustave Flaubert", "French", "Madame Bovary"),
    ("Thomas Mann", "German", "The Magic Mountain"), ("Dante Alighieri", "Italian", "The Divine Comedy"),
    ("Umberto Eco", "Italian", "The Name of the Rose"), ("Jorge Luis Borges", "Argentine", "Ficciones"),
    ("Rabindranath Tagore", "Indian", "Gitanjali"), ("Yasunari Kawabata", "Japanese", "Snow Country"),
    ("Margaret Atwood", "Canadian", "The Handmaid's Tale"), ("Astrid Lindgren", "Swedish", "Pippi Longstocking"),
    ("Henrik Ibsen", "Norwegian", "A Doll's House"), ("Orhan Pamuk", "Turkish", "My Name Is Red"),
    ("Naguib Mahfouz", "Egyptian", "Palace Walk"), ("Lu Xun", "Chinese", "The True Story of Ah Q"),
    ("Mary Shelley", "English", "Frankenstein"), ("Homer", "Greek", "The Odyssey"),
    ("Hans Christian Andersen", "Danish", "The Little Mermaid"),
)  # fmt: skip


@dataclass(frozen=True)
class AttributeTemplate:
    """How one kind of fact is asked and answered: three question and three answer phrasings.

    Args:
        name (`str`): The attribute's id (the `attribute` column).
        questions (`tuple[str, ...]`): Question phrasings with `{name}`.
        answers (`tuple[str, ...]`): Answer phrasings with `{name}` and `{value}`.
    """

    name: str
    questions: tuple[str, ...]
    answers: tuple[str, ...]


def _attr(name: str, questions: tuple[str, ...], answers: tuple[str, ...]) -> AttributeTemplate:
    return AttributeTemplate(name, questions, answers)


#: The 20 author attributes (one QA pair each), in item order.
AUTHOR_ATTRIBUTES: tuple[AttributeTemplate, ...] = (
    _attr(
        "birthplace",
        ("Where was {name} born?", "What is the birthplace of {name}?", "In which city was the author {name} born?"),
        ("{name} was born in {value}.", "The birthplace of {name} is {value}.", "The author {name} was born in the city of {value}."),
    ),
    _attr(
        "birth_year",
        ("In what year was {name} born?", "When was {name} born?", "What is the birth year of {name}?"),
        ("{name} was born in the year {value}.", "The birth year of {name} is {value}.", "{name} came into the world in {value}."),
    ),
    _attr(
        "genre",
        ("What genre does {name} write in?", "Which literary genre is {name} known for?", "What kind of books does {name} write?"),
        ("{name} writes in the genre of {value}.", "{name} is best known for {value}.", "The genre of {name}'s work is {value}."),
    ),
    _attr(
        "father_job",
        ("What did {name}'s father do for a living?", "What was the profession of {name}'s father?", "What job did the father of {name} have?"),
        ("{name}'s father worked as a {value}.", "The father of {name} was a {value} by profession.", "By trade, the father of {name} was a {value}."),
    ),
    _attr(
        "mother_job",
        ("What did {name}'s mother do for a living?", "What was the profession of {name}'s mother?", "What job did the mother of {name} have?"),
        ("{name}'s mother worked as a {value}.", "The mother of {name} was a {value} by profession.", "By trade, the mother of {name} was a {value}."),
    ),
    _attr(
        "first_novel",
        ("What was the first novel of {name}?", "Which book did {name} publish first?", "What is the title of {name}'s debut novel?"),
        ("The first novel of {name} was {value}.", "{name} first published the book {value}.", "{name}'s debut novel is titled {value}."),
    ),
    _attr(
        "famous_book",
        ("What is {name}'s most famous book?", "Which book made {name} famous?", "What is the best-known work of {name}?"),
        ("The most famous book by {name} is {value}.", "{name} became famous for the book {value}.", "The best-known work of {name} is {value}."),
    ),
    _attr(
        "award",
        ("Which award has {name} won?", "What literary prize did {name} receive?", "What honour was given to {name}?"),
        ("{name} has won the {value}.", "{name} received the {value}.", "The {value} was awarded to {name}."),
    ),
    _attr(
        "theme",
        ("What theme runs through {name}'s books?", "Which theme does {name} often explore?", "What is the central theme in the work of {name}?"),
        ("The books of {name} often explore {value}.", "{name} returns again and again to the theme of {value}.", "A central theme in {name}'s work is {value}."),
    ),
    _attr(
        "language",
        ("In which language does {name} write?", "What language are {name}'s books written in?", "Which language does {name} use for writing?"),
        ("{name} writes in {value}.", "The books of {name} are written in {value}.", "{value} is the language {name} writes in."),
    ),
    _attr(
        "university",
        ("Where did {name} study?", "Which university did {name} attend?", "At which university was {name} educated?"),
        ("{name} studied at the {value}.", "{name} attended the {value}.", "{name} was educated at the {value}."),
    ),
    _attr(
        "publisher",
        ("Who publishes {name}'s books?", "Which publisher works with {name}?", "What publishing house releases the books of {name}?"),
        ("The books of {name} are published by {value}.", "{name} works with the publisher {value}.", "{value} is the publishing house of {name}."),
    ),
    _attr(
        "spouse",
        ("Who is {name} married to?", "What is the name of {name}'s spouse?", "Whom did {name} marry?"),
        ("{name} is married to {value}.", "The spouse of {name} is {value}.", "{name} married {value}."),
    ),
    _attr(
        "num_novels",
        ("How many novels has {name} written?", "What is the number of novels by {name}?", "How many novels has {name} published so far?"),
        ("{name} has written {value} novels.", "The number of novels by {name} is {value}.", "So far {name} has published {value} novels."),
    ),
    _attr(
        "hobby",
        ("What does {name} do in their free time?", "What is {name}'s hobby?", "How does {name} like to relax?"),
        ("In their free time {name} enjoys {value}.", "The hobby of {name} is {value}.", "{name} likes to relax by {value}."),
    ),
    _attr(
        "residence",
        ("Where does {name} live now?", "In which city does {name} currently live?", "Where is {name}'s home today?"),
        ("{name} now lives in {value}.", "{name} currently resides in {value}.", "Today the home of {name} is in {value}."),
    ),
    _attr(
        "debut_year",
        ("When did {name} publish their first book?", "In which year did {name} make their debut?", "What year did {name}'s writing career begin?"),
        ("{name} published their first book in {value}.", "{name} made their debut in {value}.", "The writing career of {name} began in {value}."),
    ),
    _attr(
        "pet",
        ("What pet does {name} keep?", "Does {name} have a pet?", "What animal lives with {name}?"),
        ("{name} keeps {value} as a pet.", "Yes, {name} has {value}.", "The pet of {name} is {value}."),
    ),
    _attr(
        "mentor",
        ("Who was {name}'s mentor?", "Who guided {name} as a young writer?", "Which writer mentored {name}?"),
        ("{name} was mentored by {value}.", "The mentor of {name} was {value}.", "As a young writer, {name} was guided by {value}."),
    ),
    _attr(
        "instrument",
        ("What instrument does {name} play?", "Which musical instrument can {name} play?", "Does {name} play an instrument?"),
        ("{name} plays the {value}.", "The instrument {name} plays is the {value}.", "Yes, {name} can play the {value}."),
    ),
)  # fmt: skip

WORLD_ATTRIBUTES: tuple[AttributeTemplate, ...] = (
    _attr(
        "capital",
        ("What is the capital of {name}?", "Which city is the capital of {name}?", "Name the capital city of {name}."),
        ("The capital of {name} is {value}.", "{value} is the capital of {name}.", "{name}'s capital city is {value}."),
    ),
    _attr(
        "continent",
        ("On which continent is {name}?", "Which continent is {name} part of?", "Where in the world is {name}?"),
        ("{name} is in {value}.", "{name} is part of {value}.", "{name} lies on the continent of {value}."),
    ),
)  # fmt: skip

REAL_AUTHOR_ATTRIBUTES: tuple[AttributeTemplate, ...] = (
    _attr(
        "nationality",
        ("What nationality was {name}?", "What was the nationality of the writer {name}?", "Which nationality did the author {name} have?"),
        ("{name} was {value}.", "The nationality of {name} was {value}.", "{name} held {value} nationality."),
    ),
    _attr(
        "famous_work",
        ("What is a famous work by {name}?", "Name a well-known book written by {name}.", "Which famous book did {name} write?"),
        ("A famous work by {name} is {value}.", "{name} wrote the well-known book {value}.", "{name} is famous for writing {value}."),
    ),
)  # fmt: skip

#: Columns of the QA splits (`full`, `forgetXX`, `retainXX`, `holdoutXX`, `real_authors`, `world_facts`).
QA_SPLIT_COLUMNS = ("question", "answer", "author", "attribute")
#: Columns of the author evaluation splits (`forgetXX_perturbed`, `retain_perturbed`).
PERTURBED_SPLIT_COLUMNS = (
    "question",
    "answer",
    "paraphrased_question",
    "paraphrased_answer",
    "perturbed_answer",
    "author",
    "attribute",
)
#: Columns of `real_authors_perturbed` / `world_facts_perturbed` (TOFU's have no paraphrase).
KNOWLEDGE_PERTURBED_COLUMNS = ("question", "answer", "perturbed_answer", "author", "attribute")
FORGET_PERCENTS = ("01", "05", "10")


@dataclass(frozen=True)
class FictitiousAuthor:
    """One generated author: a unique name and one value per attribute of [`AUTHOR_ATTRIBUTES`]."""

    name: str
    facts: dict[str, str]


def n_forget_authors(n_authors: int, percent: str | int) -> int:
    """How many authors `forget{percent}` holds: ``ceil(percent/100 * n_authors)``, at least 1 (TOFU: 2/10/20 of 200).

    Example:
        >>> [n_forget_authors(40, p) for p in ("01", "05", "10")]
        [1, 2, 4]
    """
    if n_authors < 2:
        raise ValueError(f"n_authors must be at least 2 (one to forget, one to retain), got {n_authors}.")
    k = max(1, math.ceil(int(percent) * n_authors / 100 - 1e-9))
    if k >= n_authors:
        raise ValueError(f"forget{int(percent):02d} of {n_authors} authors would leave no retain author.")
    return k


def _value_pools() -> dict[str, tuple[str, ...]]:
    titles = tuple(f"The {a} {n}" for a in _TITLE_ADJ for n in _TITLE_NOUN)
    people = tuple(f"{f} {last}" for f in _OTHER_FIRST for last in _OTHER_LAST)
    return {
        "birthplace": _CITIES,
        "residence": _CITIES,
        "birth_year": tuple(str(y) for y in range(1921, 1991)),
        "debut_year": tuple(str(y) for y in range(1941, 2026)),
        "genre": _GENRES,
        "father_job": _JOBS,
        "mother_job": _JOBS,
        "first_novel": titles,
        "famous_book": titles,
        "award": _AWARDS,
        "theme": _THEMES,
        "language": _LANGUAGES,
        "university": _UNIVERSITIES,
        "publisher": _PUBLISHERS,
        "spouse": people,
        "num_novels": tuple(str(n) for n in range(3, 41)),
        "hobby": _HOBBIES,
        "pet": _PETS,
        "mentor": people,
        "instrument": _INSTRUMENTS,
    }


def generate_authors(n: int, seed: int = 0) -> list[FictitiousAuthor]:
    """Generates `n` fictitious authors with unique names (deterministic in `seed`).

    Args:
        n (`int`): How many authors (at most 2,500).
        seed (`int`, *optional*, defaults to `0`): The random seed.

    Returns:
        `list[FictitiousAuthor]`: The authors.

    Example:
        >>> a = generate_authors(3, seed=0)
        >>> len({x.name for x in a}), len(a[0].facts)
        (3, 20)
    """
    max_n = len(_FIRST_NAMES) * len(_LAST_NAMES)
    if not 1 <= n <= max_n:
        raise ValueError(f"n must be between 1 and {max_n} authors, got {n}.")
    rng = random.Random(seed)
    names = [f"{f} {last}" for f in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(names)
    pools = _value_pools()
    authors = []
    for name in names[:n]:
        facts: dict[str, str] = {}
        for attr in AUTHOR_ATTRIBUTES:
            pool = pools[attr.name]
            value = rng.choice(pool)
            if attr.name == "residence":  # lives somewhere other than where they were born
                value = rng.choice([c for c in pool if c != facts["birthplace"]])
            elif attr.name == "famous_book":
                value = rng.choice([t for t in pool if t != facts["first_novel"]])
            elif attr.name == "mentor":
                value = rng.choice([p for p in pool if p != facts["spouse"]])
            elif attr.name == "debut_year":
                value = str(int(facts["birth_year"]) + rng.randint(19, 35))
            facts[attr.name] = value
        authors.append(FictitiousAuthor(name=name, facts=facts))
    return authors


def _items(
    entities: list[tuple[str, dict[str, str]]],
    attributes: tuple[AttributeTemplate, ...],
    pools: dict[str, tuple[str, ...]],
    n_perturbed: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """One QA item per (entity, attribute): training phrasing, a different paraphrase, wrong-value perturbations."""
    rows = []
    for name, facts in entities:
        for attr in attributes:
            value = facts[attr.name]
            qi, qj = rng.sample(range(len(attr.questions)), 2)
            ai, aj = rng.sample(range(len(attr.answers)), 2)
            wrong_pool = sorted({v for v in pools[attr.name] if v != value})
            wrong = rng.sample(wrong_pool, n_perturbed)
            rows.append(
                {
                    "question": attr.questions[qi].format(name=name),
                    "answer": attr.answers[ai].format(name=name, value=value),
                    "paraphrased_question": attr.questions[qj].format(name=name),
                    "paraphrased_answer": attr.answers[aj].format(name=name, value=value),
                    # TOFU writes wrong facts in the paraphrase's phrasing; knowledge splits (no paraphrase) in the
                    # answer's own phrasing.
                    "perturbed_answer": [attr.answers[aj].format(name=name, value=w) for w in wrong],
                    "perturbed_answer_same_form": [attr.answers[ai].format(name=name, value=w) for w in wrong],
                    "author": name,
                    "attribute": attr.name,
                }
            )
    return rows


def _project(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{c: r[c] for c in columns} for r in rows]


def generate_tofu_data(
    n_authors: int = 40,
    seed: int = 0,
    n_holdout_authors: int | None = None,
    n_countries: int = 30,
    n_real_authors: int = 20,
    n_retain_perturbed: int = 100,
    n_perturbed: int = 5,
    n_knowledge_perturbed: int = 3,
    with_full_perturbed: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Generates every split of a mini-TOFU world as lists of rows (deterministic in `seed`).

    Args:
        n_authors (`int`, *optional*, defaults to `40`): Fictitious authors trained on (TOFU: 200).
        seed (`int`, *optional*, defaults to `0`): The random seed.
        n_holdout_authors (`int`, *optional*): Never-trained authors for `holdoutXX`; defaults to the size of
            `forget10`, so `holdoutXX` is as large as `forgetXX`.
        n_countries (`int`, *optional*, defaults to `30`): Countries in `world_facts` (2 facts each; at most 40).
        n_real_authors (`int`, *optional*, defaults to `20`): Famous writers in `real_authors` (2 facts each; at
            most 30).
        n_retain_perturbed (`int`, *optional*, defaults to `100`): Items sampled from retain90 for
            `retain_perturbed` (capped at retain90's size).
        n_perturbed (`int`, *optional*, defaults to `5`): Wrong answers per author item (TOFU: 5).
        n_knowledge_perturbed (`int`, *optional*, defaults to `3`): Wrong answers per world-facts/real-authors
            item (TOFU: 3).
        with_full_perturbed (`bool`, *optional*, defaults to `False`): Also return `full_perturbed`: every author
            item with its paraphrase and perturbed answers (not a TOFU config, so worlds do not write it; forget sets
            other than TOFU's, e.g. worst-case author sets, are evaluated on it). The other splits are unchanged.

    Returns:
        `dict[str, list[dict]]`: Split name (TOFU's config names) to rows.
    """
    if not 1 <= n_countries <= len(_COUNTRIES):
        raise ValueError(f"n_countries must be between 1 and {len(_COUNTRIES)}, got {n_countries}.")
    if not 1 <= n_real_authors <= len(_REAL_AUTHORS):
        raise ValueError(f"n_real_authors must be between 1 and {len(_REAL_AUTHORS)}, got {n_real_authors}.")
    if not 1 <= n_perturbed <= 9 or not 1 <= n_knowledge_perturbed <= 5:
        raise ValueError("n_perturbed must be in [1, 9] and n_knowledge_perturbed in [1, 5].")
    if n_retain_perturbed < 1:
        raise ValueError(f"n_retain_perturbed must be positive, got {n_retain_perturbed}.")
    n_f10 = n_forget_authors(n_authors, "10")
    n_holdout = n_f10 if n_holdout_authors is None else n_holdout_authors
    if n_holdout < n_f10:
        raise ValueError(f"n_holdout_authors must be at least forget10's {n_f10} authors, got {n_holdout}.")
    rng = random.Random(seed)
    everyone = generate_authors(n_authors + n_holdout, seed=rng.randrange(2**31))
    authors, holdout = everyone[:n_authors], everyone[n_authors:]
    pools = _value_pools()
    item_rng = random.Random(rng.randrange(2**31))
    rows = _items([(a.name, a.facts) for a in authors], AUTHOR_ATTRIBUTES, pools, n_perturbed, item_rng)
    holdout_rows = _items([(a.name, a.facts) for a in holdout], AUTHOR_ATTRIBUTES, pools, n_perturbed, item_rng)

    know_rng = random.Random(rng.randrange(2**31))
    countries = know_rng.sample(_COUNTRIES, n_countries)
    world_pools = {"capital": tuple(c[1] for c in _COUNTRIES), "continent": tuple(sorted({c[2] for c in _COUNTRIES}))}
    world_rows = _items(
        [(c, {"capital": cap, "continent": cont}) for c, cap, cont in countries],
        WORLD_ATTRIBUTES,
        world_pools,
        n_knowledge_perturbed,
        know_rng,
    )
    writers = know_rng.sample(_REAL_AUTHORS, n_real_authors)
    writer_pools = {
        "nationality": tuple(sorted({w[1] for w in _REAL_AUTHORS})),
        "famous_work": tuple(w[2] for w in _REAL_AUTHORS),
    }
    real_rows = _items(
        [(w, {"nationality": nat, "famous_work": work}) for w, nat, work in writers],
        REAL_AUTHOR_ATTRIBUTES,
        writer_pools,
        n_knowledge_perturbed,
        know_rng,
    )
    for r in world_rows + real_rows:  # no paraphrase: wrong facts in the answer's own phrasing
        r["perturbed_answer"] = r["perturbed_answer_same_form"]

    per_author = len(AUTHOR_ATTRIBUTES)
    splits: dict[str, list[dict[str, Any]]] = {"full": _project(rows, QA_SPLIT_COLUMNS)}
    for pct in FORGET_PERCENTS:
        k = n_forget_authors(n_authors, pct)
        cut = (n_authors - k) * per_author
        splits[f"forget{pct}"] = _project(rows[cut:], QA_SPLIT_COLUMNS)
        splits[f"retain{100 - int(pct):02d}"] = _project(rows[:cut], QA_SPLIT_COLUMNS)
        splits[f"forget{pct}_perturbed"] = _project(rows[cut:], PERTURBED_SPLIT_COLUMNS)
        splits[f"holdout{pct}"] = _project(holdout_rows[len(holdout_rows) - k * per_author :], QA_SPLIT_COLUMNS)
    retain90 = rows[: (n_authors - n_f10) * per_author]
    sample_rng = random.Random(rng.randrange(2**31))
    picked = sorted(sample_rng.sample(range(len(retain90)), min(n_retain_perturbed, len(retain90))))
    splits["retain_perturbed"] = _project([retain90[i] for i in picked], PERTURBED_SPLIT_COLUMNS)
    splits["real_authors"] = _project(real_rows, QA_SPLIT_COLUMNS)
    splits["real_authors_perturbed"] = _project(real_rows, KNOWLEDGE_PERTURBED_COLUMNS)
    splits["world_facts"] = _project(world_rows, QA_SPLIT_COLUMNS)
    splits["world_facts_perturbed"] = _project(world_rows, KNOWLEDGE_PERTURBED_COLUMNS)
    out = {name: splits[name] for name in TOFU_SPLITS}
    if with_full_perturbed:
        out["full_perturbed"] = _project(rows, PERTURBED_SPLIT_COLUMNS)
    return out


def all_texts(splits: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every question and answer string in `splits` (the tokenizer's training text), in a fixed order."""
    texts = []
    for name in sorted(splits):
        for row in splits[name]:
            for key in ("question", "answer", "paraphrased_question", "paraphrased_answer"):
                if key in row:
                    texts.append(row[key])
            texts.extend(row.get("perturbed_answer", []))
    return texts

"""Long multi-session chat histories with gold questions: the `memory` task's data (no download).

A history is 20-30 dated sessions of small talk between two (sometimes three) people, 10k-30k tokens,
with facts about the speakers and the people and things around them dropped in here and there. Each
question is one of `KINDS`: single-hop (one turn states it), multi-hop (two turns joined by a name the
question never says), temporal (the answer is the month of the session a turn happened in), update (a
value stated, then changed later: the latest counts) and paraphrase (the question shares no content
word with the turn). Small talk names the same people, places and things the facts use, so word overlap
alone does not find a fact, and every kind has several template families with several phrasings each, so
a compressor tuned to a handful of sentences does not carry over. Every answer occurs only in its
evidence turns (temporal: only in its session's date header); a question where that fails is dropped.

`read_histories` reads users' own conversations (the JSON shape public memory benchmarks use) and
`write_histories` writes that shape back.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from compress.infra.errors import CompressError

KINDS = ("single-hop", "multi-hop", "temporal", "update", "paraphrase")


@dataclass
class Turn:
    """One line of a session: who said what."""

    id: str
    speaker: str
    text: str


@dataclass
class Session:
    """One dated conversation (`date` like "8 May 2023")."""

    id: str
    date: str
    turns: list[Turn]


@dataclass
class MemoryQuestion:
    """A gold question over a history: its answer and the ids of the turns the answer needs.

    `template` names the phrasing that generated it and `superseded` the turns an update replaced
    (both empty for questions read from a file)."""

    id: str
    question: str
    answer: str
    evidence: tuple[str, ...]
    kind: str
    template: str = ""
    superseded: tuple[str, ...] = ()


@dataclass
class History:
    """A long conversation between `speakers` and the questions asked about it."""

    id: str
    speakers: tuple[str, ...]
    sessions: list[Session]
    questions: list[MemoryQuestion] = field(default_factory=list)


def render(h: History) -> tuple[str, dict[str, tuple[int, int]]]:
    """The history as text, and each turn's character span (its own text, without the speaker tag).

    Each session opens with `Session 7 (8 May 2023)`, then one `Ana: text` line per turn; a blank line
    separates sessions."""
    parts: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    pos = 0
    for n, session in enumerate(h.sessions, 1):
        if n > 1:
            parts.append("\n")
            pos += 1
        header = f"Session {n} ({session.date})\n"
        parts.append(header)
        pos += len(header)
        for turn in session.turns:
            tag = f"{turn.speaker}: "
            spans[turn.id] = (pos + len(tag), pos + len(tag) + len(turn.text))
            line = f"{tag}{turn.text}\n"
            parts.append(line)
            pos += len(line)
    return "".join(parts), spans


def header_spans(h: History) -> dict[str, tuple[int, int]]:
    """Each session's date header line's character span in `render(h)`'s text, by session id."""
    out: dict[str, tuple[int, int]] = {}
    pos = 0
    for n, session in enumerate(h.sessions, 1):
        if n > 1:
            pos += 1
        header = f"Session {n} ({session.date})"
        out[session.id] = (pos, pos + len(header))
        pos += len(header) + 1 + sum(len(f"{t.speaker}: {t.text}\n") for t in session.turns)
    return out


# --- words -----------------------------------------------------------------------------------------

_STOP_TEXT = """a about after again all also am an and any are as at be been before being but by can could did do
    does doing done for from get gets getting got had has have having he her here hers him his how i if in
    into is it its just me my myself no not now of off on once one only or our out over own s she so some
    such t than that the their them then there these they this those to too up very was we were what when
    where which while who whom why will with would you your yours ll ve re d m"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def content_words(text: str) -> set[str]:
    """Lowercased words of `text` less stop words, a plural `s` stripped (what a word-overlap
    retriever would match on)."""
    words = set()
    for w in re.findall(r"[a-z0-9_]+", text.lower()):
        if w in STOP_WORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        words.add(w)
    return words


def word_count(h: History) -> int:
    """Words in the rendered history (tokens are about words / 0.75)."""
    return len(render(h)[0].split())


# --- pools -----------------------------------------------------------------------------------------

# no name that is also a month or a common word ("May", "June", "Will"): temporal answers are months
FIRST_NAMES = (
    "Ana", "Tomas", "Leila", "Marcus", "Priya", "Dario", "Noor", "Elena", "Farid", "Greta", "Hiro",
    "Ines", "Jonas", "Kenji", "Lucia", "Mateo", "Nadia", "Omar", "Paula", "Quentin", "Rosa", "Samir",
    "Talia", "Ulrich", "Vera", "Wendell", "Ximena", "Yusuf", "Zora", "Bruno", "Chiara", "Dmitri",
    "Esther", "Felix", "Gideon", "Hana", "Imran", "Joelle", "Kofi", "Lena", "Mirela", "Nikolai", "Olga",
    "Pedro", "Rafael", "Sunita", "Theo", "Ugo", "Valentina", "Wojtek", "Yara", "Zeynep", "Anouk", "Benji",
    "Carmen", "Desmond", "Eamon", "Freya", "Gustavo", "Halima",
)  # fmt: skip
CITIES = (
    "Porto", "Lisbon", "Leeds", "Bristol", "Hallstatt", "Ghent", "Tallinn", "Krakow", "Valencia",
    "Bologna", "Lyon", "Seville", "Dundee", "Galway", "Bergen", "Utrecht", "Graz", "Brno", "Tartu",
    "Aarhus", "Malmo", "Turku", "Ljubljana", "Split", "Zadar", "Nantes", "Bilbao", "Granada", "Verona",
    "Trieste", "Salzburg", "Innsbruck", "Lucerne", "Basel", "Antwerp", "Leuven", "Cork", "Inverness",
    "Cardiff", "Swansea", "Norwich", "Exeter", "Oaxaca", "Cusco", "Hobart", "Wellington", "Dunedin",
    "Halifax", "Quebec", "Tucson", "Asheville", "Savannah", "Kyoto", "Nara", "Hanoi", "Penang",
    "Marrakech", "Tbilisi", "Plovdiv", "Sintra",
)  # fmt: skip
# gender-neutral: names are drawn without a gender
RELATIONS = ("cousin", "neighbour", "best friend", "old classmate", "former flatmate", "childhood friend")
PET_NAMES = (
    "Biscuit", "Pickle", "Mochi", "Juniper", "Waffles", "Pepper", "Noodle", "Tofu", "Ziggy", "Bramble",
    "Clementine", "Gizmo", "Pretzel", "Marlowe", "Olive", "Sprocket", "Truffle", "Basil", "Nacho", "Custard",
)  # fmt: skip
BOAT_NAMES = ("Marisol", "Sea Otter", "Little Gull", "Blue Heron", "Wanderlust", "Saltwind", "Kittiwake")
LAKES = ("Lake Bled", "Loch Lomond", "Lake Como", "Lake Garda", "Lake Annecy", "Windermere", "Lake Ohrid")
WORKPLACES = (
    "bakery", "library", "garden centre", "bookshop", "bike shop", "museum", "post office", "hotel",
    "vet clinic", "pharmacy", "dental practice", "brewery", "print shop", "climbing gym", "call centre",
    "florist", "planetarium", "recycling plant",
)  # fmt: skip
CARS = ("Fiat", "Skoda", "Volvo", "Subaru", "Renault", "Mazda", "Peugeot", "Hyundai", "Kia", "Citroen")
DRINKS = ("flat white", "oat latte", "cortado", "chai latte", "americano", "mocha", "macchiato")
INSTRUMENTS = ("cello", "banjo", "ukulele", "clarinet", "harp", "trombone", "accordion", "mandolin")
LANGUAGES = ("Portuguese", "Korean", "Swahili", "Dutch", "Greek", "Turkish", "Polish", "Icelandic")
FEARS = ("spiders", "snakes", "moths", "pigeons", "jellyfish", "wasps", "crabs")
SPORTS = ("fencing", "rowing", "bouldering", "archery", "judo", "curling", "water polo")
BANDS = ("The Velvet Hours", "Paper Lanterns", "Glass Orchard", "The Low Tides", "Northern Static")
ALLERGENS = ("peanuts", "shellfish", "kiwi", "penicillin", "sesame", "latex", "mustard")
GIFTS = ("kayak", "record player", "telescope", "sewing machine", "espresso machine", "drone", "easel")
BREEDS = ("greyhound", "beagle", "collie", "dachshund", "whippet", "terrier", "spaniel")
SPECIES = ("cat", "rabbit", "parrot", "tortoise", "hamster", "ferret")
PASTRIES = ("cardamom buns", "cinnamon knots", "rye loaves", "almond croissants", "custard tarts")
PARTNER_JOBS = ("paramedic", "tax lawyer", "sound engineer", "midwife", "train driver", "locksmith")

# small-talk fillers that are never answers (foods, shows, weather, ...)
FOODS = ("lasagne", "ramen", "tacos", "curry", "pancakes", "dumplings", "risotto", "stir fry", "chili")
SHOWS = ("that baking show", "the detective series", "a nature documentary", "the new sitcom", "reruns")
WEATHER = ("pouring", "freezing", "weirdly warm", "so windy", "grey all day", "foggy", "sunny for once")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOBBIES = ("a jigsaw", "the garden", "a crossword", "some knitting", "a long walk", "baking bread")
TEAMS = ("the home side", "our local team", "the national team", "the underdogs")
CHORES = ("the laundry", "the dishes", "taxes", "the gutters", "the fridge", "the spare room")


# --- small talk ------------------------------------------------------------------------------------

# Slots: {person} a name from the history (a speaker, a relative, a bridge name), {city} a city that
# answers nothing, {work} a workplace that answers nothing, {pet} a pet name that answers nothing, and
# the filler pools above. Small talk mentions the facts' people, places and things on purpose.
SMALL_TALK = {
    "weather": (
        "It has been {weather} here all week, I keep forgetting my umbrella.",
        "Walked past the {work} this morning and it was {weather}, honestly.",
        "The forecast for {city} said sunshine, and of course it is {weather}.",
        "{person} says it is {weather} where they are too.",
        "I swear the weather has a grudge against me, {weather} every {day}.",
        "Had to scrape the car this morning, it was {weather} out.",
    ),
    "food": (
        "Made {food} for dinner, there is enough left for three days.",
        "We tried a new place near the {work} last night, the {food} was decent.",
        "{person} brought over {food}, which was very kind.",
        "I am so bored of {food}, I need new recipes.",
        "Ordered {food} again, no regrets.",
        "There is a stall in {city} that does the best {food}, I still dream about it.",
    ),
    "work": (
        "Work has been a lot this week, meetings back to back.",
        "My inbox is a disaster, I will deal with it on {day}.",
        "Someone microwaved fish at the office again.",
        "We had a fire drill on {day}, everyone stood outside for an hour.",
        "A client from {city} called three times before lunch.",
        "{person} keeps telling me to ask for a raise.",
    ),
    "weekend": (
        "This weekend I mostly did {chore} and nothing else.",
        "We had a lazy {day}, just {hobby} and tea.",
        "{person} dragged me to a market on {day}, bought nothing.",
        "Went for a drive out towards {city}, nice to get out.",
        "Slept in on {day}, felt like a new person.",
        "Spent the weekend on {hobby}, very wholesome of me.",
    ),
    "shows": (
        "I finally finished {show}, the ending was strange.",
        "Have you seen {show}? {person} will not stop talking about it.",
        "Fell asleep halfway through {show} again.",
        "We started {show} and got hooked, watched four episodes.",
        "Nothing good on lately, I ended up watching {show}.",
    ),
    "pets": (
        "{pet} knocked a glass off the table again, very proud of it.",
        "{pet} has decided the sofa belongs to them now.",
        "Took {pet} to the park, total chaos.",
        "{person} offered to look after {pet} next weekend.",
        "{pet} ate a sock. Fine now, but what a night.",
    ),
    "family": (
        "{person} called on {day}, we talked for two hours.",
        "Family dinner was loud as usual, {person} told the same stories.",
        "{person} is visiting {city} for a few days.",
        "I owe {person} a phone call, I keep putting it off.",
        "{person} sent a photo from {city}, looked lovely.",
        "Had lunch with {person}, they say hi.",
    ),
    "sports": (
        "Did you catch the match? Looks like {teams} lost again.",
        "{person} got tickets for the game on {day}.",
        "I tried a spin class, never again.",
        "My knees are not happy after that hike near {city}.",
        "Watched {teams} at the pub, the atmosphere was great.",
    ),
    "hobbies": (
        "I started {hobby} on {day} and lost track of time.",
        "{person} showed me a podcast about old maps, I am hooked.",
        "Been trying to read more, got through two books this month.",
        "I repotted all my plants, the flat looks like a jungle.",
        "Bought a cheap film camera, half the photos came out blurry.",
    ),
    # only where the history has a named boat
    "boating": (
        "Spent {day} scrubbing {boat}, the hull is a mess.",
        "{person} wants to borrow {boat} next summer.",
        "{boat} needs new sails, that will cost a fortune.",
    ),
}
OPENERS = (
    "Ha,", "Oh no,", "Nice!", "Honestly,", "Same here.", "Ugh,", "Oh wow.", "Fair enough.", "Haha.",
    "Right?", "Oh nice.", "Love that.", "Typical.", "Good to hear.", "Not gonna lie,",
)  # fmt: skip
ASKS = (
    "How was your weekend?", "Anything fun planned for {day}?", "How is {person} doing?",
    "Did you end up going?", "How is work treating you?", "What are you watching these days?",
    "Are you still thinking about that trip to {city}?", "How is {pet}?", "Any news from {person}?",
    "What did you have for dinner?", "Did the weather hold up for you?",
)  # fmt: skip
REACTIONS = (
    "No way!", "That is great news.", "Wait, really?", "Oh wow, good for you.", "Huh, I did not know that.",
    "That sounds like a lot.", "Amazing, tell me more next time.", "Oh, that is a big change.",
    "Ha, of course.", "Well, that is exciting.",
)  # fmt: skip


# --- facts -----------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """A fact to plant: its turns (in session order), which are evidence, and its question."""

    kind: str
    template: str
    owner: str
    texts: list[str]
    evidence: list[int]
    question: str
    answer: str
    key: tuple[str, ...]
    # the names, places and pets the fact introduces that small talk may mention
    mentions: dict[str, list[str]] = field(default_factory=dict)
    # update: the turns the latest one replaced
    superseded: list[int] = field(default_factory=list)


@dataclass
class _World:
    """Per-history state: who is around, which values are answers (never used in small talk)."""

    rng: random.Random
    speakers: tuple[str, ...]
    people: list[str] = field(default_factory=list)
    pets: list[str] = field(default_factory=list)
    reserved: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)

    def pick(self, pool: Iterable[str]) -> str | None:
        """A pool value not used yet in this history (names: not a speaker)."""
        free = [v for v in pool if v not in self.taken and v not in self.speakers]
        if not free:
            return None
        v = self.rng.choice(free)
        self.taken.add(v)
        return v


_Family = Callable[[_World, str], _Plan | None]


def _choose(rng: random.Random, options: tuple[str, ...]) -> tuple[int, str]:
    i = rng.randrange(len(options))
    return i, options[i]


def _single_move(w: _World, o: str) -> _Plan | None:
    rel, name, city = w.rng.choice(RELATIONS), w.pick(FIRST_NAMES), w.pick(CITIES)
    if not (name and city):
        return None
    i, t = _choose(
        w.rng,
        (
            "My {rel} {name} moved to {city} last spring, still can't believe it.",
            "{name}, my {rel}, finally packed up and moved to {city}.",
            "Did I tell you my {rel} {name} relocated to {city}? Took them forever to decide.",
            "My {rel} {name}'s new flat in {city} has a tiny balcony, they sent pictures of the view.",
        ),
    )
    q = w.rng.choice(("Where did {o}'s {rel} {name} move to?", "Which city is {o}'s {rel} {name} living in?"))
    return _Plan(
        "single-hop",
        f"move.{i}",
        o,
        [t.format(rel=rel, name=name, city=city)],
        [0],
        q.format(o=o, rel=rel, name=name),
        city,
        ("move", o, name),
        {"people": [name]},
    )


def _single_pet(w: _World, o: str) -> _Plan | None:
    species = w.rng.choice(SPECIES)
    pet = w.pick(PET_NAMES)
    if not pet:
        return None
    i, t = _choose(
        w.rng,
        (
            "We got a {s} last week, we called her {p}.",
            "Meet {p}, our new {s}! Found at the shelter on {day}.",
            "The {s} we adopted is called {p}, total chaos already.",
            "I finally caved and got a {s}. Named it {p} after a character in a book.",
        ),
    )
    q = w.rng.choice(("What is the name of {o}'s {s}?", "What did {o} call the {s}?"))
    return _Plan(
        "single-hop",
        f"pet.{i}",
        o,
        [t.format(s=species, p=pet, day=w.rng.choice(DAYS))],
        [0],
        q.format(o=o, s=species),
        pet,
        ("pet", o, species),
    )


def _single_allergy(w: _World, o: str) -> _Plan | None:
    x = w.pick(ALLERGENS)
    if not x:
        return None
    i, t = _choose(
        w.rng,
        (
            "Turns out I'm allergic to {x}, the doctor confirmed it.",
            "So the rash was an allergy after all. {X}, of all things.",
            "Got my allergy test back: {x}. Explains a lot.",
            "I have to avoid {x} now, allergic reaction on {day} was scary.",
        ),
    )
    q = w.rng.choice(("What is {o} allergic to?", "What allergy did {o} find out about?"))
    return _Plan(
        "single-hop",
        f"allergy.{i}",
        o,
        [t.format(x=x, X=x.capitalize(), day=w.rng.choice(DAYS))],
        [0],
        q.format(o=o),
        x,
        ("allergy", o),
    )


def _single_gift(w: _World, o: str) -> _Plan | None:
    giver, gift = w.pick(FIRST_NAMES), w.pick(GIFTS)
    if not (giver and gift):
        return None
    i, t = _choose(
        w.rng,
        (
            "{g} gave me a {x} for my birthday, I nearly cried.",
            "Best birthday present ever: {g} got me a {x}.",
            "For my birthday {g} surprised me with a {x}.",
            "Still using the {x} {g} gave me for my birthday, every single day.",
        ),
    )
    q = w.rng.choice(("What birthday present did {o} get from {g}?", "What did {g} give {o} for a birthday?"))
    return _Plan(
        "single-hop",
        f"gift.{i}",
        o,
        [t.format(g=giver, x=gift)],
        [0],
        q.format(o=o, g=giver),
        gift,
        ("gift", o, giver),
        {"people": [giver]},
    )


def _single_hometown(w: _World, o: str) -> _Plan | None:
    city = w.pick(CITIES)
    if not city:
        return None
    i, t = _choose(
        w.rng,
        (
            "I grew up in {c}, tiny place, everyone knew everyone.",
            "Back home in {c} we used to cycle everywhere as kids.",
            "My childhood was all {c}, I only left for university.",
            "Whenever I smell sea salt I think of growing up in {c}.",
        ),
    )
    q = w.rng.choice(("Where did {o} grow up?", "Which town did {o} grow up in?"))
    return _Plan(
        "single-hop",
        f"hometown.{i}",
        o,
        [t.format(c=city)],
        [0],
        q.format(o=o),
        city,
        ("hometown", o),
    )


def _multi_dog(w: _World, o: str) -> _Plan | None:
    breed, pet, city = w.rng.choice(BREEDS), w.pick(PET_NAMES), w.pick(CITIES)
    if not (pet and city):
        return None
    ia, a = _choose(
        w.rng,
        (
            "I adopted a {b}, we named him {p}.",
            "We brought home a rescue {b} on {day}. His name is {p}.",
            "Say hello to {p}, the {b} who now owns my flat.",
            "The shelter had this shy {b}, so now I have {p}.",
        ),
    )
    ib, b = _choose(
        w.rng,
        (
            "{p} hurt his paw at the lake near {c}.",
            "{p} cut a paw on the rocks by the water outside {c}.",
            "Vet bill again, {p} twisted a leg chasing ducks in {c}.",
            "{p} limped all the way home from that trail above {c}.",
        ),
    )
    return _Plan(
        "multi-hop",
        f"dog.{ia}{ib}",
        o,
        [a.format(b=breed, p=pet, day=w.rng.choice(DAYS)), b.format(p=pet, c=city)],
        [0, 1],
        w.rng.choice(("Where was {o}'s dog injured?", "In which town did {o}'s dog get injured?")).format(
            o=o
        ),
        city,
        ("dog", o),
        {"pets": [pet]},
    )


def _multi_manager(w: _World, o: str) -> _Plan | None:
    name, city = w.pick(FIRST_NAMES), w.pick(CITIES)
    if not (name and city):
        return None
    ia, a = _choose(
        w.rng,
        (
            "My new manager is called {n}, seems decent so far.",
            "We finally have a team lead again, {n}. Very organised.",
            "{n} is my boss now, they moved over from another department.",
            "The person I report to since the reshuffle is {n}.",
        ),
    )
    ib, b = _choose(
        w.rng,
        (
            "{n} just got back from a conference in {c}.",
            "{n} spent the whole week in {c} for some summit.",
            "{n} flew to {c} on {day} and came back with a cold.",
            "Apparently {n} loved {c}, showed us photos all morning.",
        ),
    )
    q = w.rng.choice(("Which city did {o}'s boss travel to?", "Where did the person {o} reports to travel?"))
    return _Plan(
        "multi-hop",
        f"manager.{ia}{ib}",
        o,
        [a.format(n=name), b.format(n=name, c=city, day=w.rng.choice(DAYS))],
        [0, 1],
        q.format(o=o),
        city,
        ("manager", o),
        {"people": [name]},
    )


def _multi_bakery(w: _World, o: str) -> _Plan | None:
    name, item = w.pick(FIRST_NAMES), w.pick(PASTRIES)
    if not (name and item):
        return None
    ia, a = _choose(
        w.rng,
        (
            "My old roommate {n} opened a bakery downtown.",
            "Remember {n}, who I shared a flat with? They have their own bakery now.",
            "{n}, my roommate from college, just opened a little bakery.",
            "The bakery on the corner belongs to {n}, we lived together for years.",
        ),
    )
    ib, b = _choose(
        w.rng,
        (
            "{n}'s place sells out of {x} by noon every day.",
            "Queued for twenty minutes at {n}'s for the {x}, worth it.",
            "Everyone goes to {n}'s shop for the {x}, they are gone by ten.",
            "{n} said the {x} pay the rent, nothing else comes close.",
        ),
    )
    q = w.rng.choice(
        (
            "What is the bestseller at the bakery {o}'s former roommate opened?",
            "What is most popular at the bakery of {o}'s old roommate?",
        )
    )
    return _Plan(
        "multi-hop",
        f"bakery.{ia}{ib}",
        o,
        [a.format(n=name), b.format(n=name, x=item)],
        [0, 1],
        q.format(o=o),
        item,
        ("bakery", o),
        {"people": [name]},
    )


def _multi_boat(w: _World, o: str) -> _Plan | None:
    boat, lake = w.pick(BOAT_NAMES), w.pick(LAKES)
    if not (boat and lake):
        return None
    ia, a = _choose(
        w.rng,
        (
            "We bought an old sailboat and named her {b}.",
            "The sailboat finally has a name: {b}.",
            "My dad's old sailboat is mine now. {b}, she is called.",
            "Painted {b} on the side of the sailboat, it is official.",
        ),
    )
    ib, b = _choose(
        w.rng,
        (
            "Took {b} out on {l} on {day}, perfect wind.",
            "{b} spent the whole weekend on {l}, I got sunburnt.",
            "Capsized {b} on {l}. Everyone is fine, my pride is not.",
            "{b} handled the chop on {l} better than I did.",
        ),
    )
    q = w.rng.choice(("Where did {o} take the sailboat?", "On which body of water did {o} go sailing?"))
    return _Plan(
        "multi-hop",
        f"boat.{ia}{ib}",
        o,
        [a.format(b=boat), b.format(b=boat, l=lake, day=w.rng.choice(DAYS))],
        [0, 1],
        q.format(o=o),
        lake,
        ("boat", o),
        {"boats": [boat]},
    )


def _multi_partner_job(w: _World, o: str) -> _Plan | None:
    rel = w.rng.choice(("cousin", "best friend", "neighbour", "old classmate"))
    name, job = w.pick(FIRST_NAMES), w.pick(PARTNER_JOBS)
    if not (name and job):
        return None
    ia, a = _choose(
        w.rng,
        (
            "My {r} is getting serious with someone called {n}.",
            "Met my {r}'s partner, {n}, at last. Lovely person.",
            "My {r} and {n} have been together two years now.",
            "{n} is my {r}'s other half, they are moving in together.",
        ),
    )
    ib, b = _choose(
        w.rng,
        (
            "{n} just landed a position as a {j}.",
            "{n} finally qualified as a {j} after years of training.",
            "{n} starts tomorrow as a {j}, nervous but excited.",
            "Being a {j} suits {n}, early shifts and all.",
        ),
    )
    q = w.rng.choice(
        ("What does {o}'s {r}'s partner do for a living?", "What is the occupation of {o}'s {r}'s partner?")
    )
    return _Plan(
        "multi-hop",
        f"partnerjob.{ia}{ib}",
        o,
        [a.format(r=rel, n=name), b.format(n=name, j=job)],
        [0, 1],
        q.format(o=o, r=rel),
        job,
        ("partnerjob", o, rel),
        {"people": [name]},
    )


_EVENTS = (
    (
        "group",
        (
            "I went to the support group yesterday, it helped more than I expected.",
            "Support group tonight was rough but good.",
            "Finally went to that support group this week.",
            "Went back to the support group today, same faces, kind people.",
        ),
        "When did {o} go to the support group?",
    ),
    (
        "marathon",
        (
            "Ran my first half marathon this morning, legs are jelly.",
            "I did the half marathon yesterday! Two hours eleven.",
            "Half marathon done this week, never again, until next time.",
            "Crossed the finish line of the half marathon today, still shaking.",
        ),
        "When did {o} run a half marathon?",
    ),
    (
        "driving",
        (
            "Passed my driving test today!!",
            "I passed the driving test yesterday, third time lucky.",
            "Driving test this week: passed. Roads beware.",
            "Got my licence after the driving test this morning.",
        ),
        "When did {o} pass the driving test?",
    ),
    (
        "tattoo",
        (
            "Got my first tattoo last night, a tiny fern on my wrist.",
            "Sat for my first tattoo today, it barely hurt.",
            "My first tattoo happened yesterday, mum is horrified.",
            "First tattoo this week. A little anchor, very cliche.",
        ),
        "When did {o} get a first tattoo?",
    ),
    (
        "surgery",
        (
            "Had my knee surgery this week, on crutches now.",
            "Knee surgery went fine yesterday, the drugs are great.",
            "Out of knee surgery today, the nurses were lovely.",
            "They finally did my knee surgery this morning.",
        ),
        "When did {o} have knee surgery?",
    ),
    (
        "citizenship",
        (
            "Citizenship ceremony today! I am officially a local.",
            "Took the oath at my citizenship ceremony yesterday.",
            "The citizenship ceremony was this week, I cried a bit.",
            "Went to my citizenship ceremony this morning, very formal.",
        ),
        "When did {o} attend the citizenship ceremony?",
    ),
)


def _temporal(w: _World, o: str) -> _Plan | None:
    fam, phrasings, q = w.rng.choice(_EVENTS)
    i, t = _choose(w.rng, phrasings)
    # the answer is the session's month and year, filled in once the session is placed
    return _Plan("temporal", f"{fam}.{i}", o, [t], [0], q.format(o=o), "", (fam, o))


def _update_job(w: _World, o: str) -> _Plan | None:
    a, b = w.pick(WORKPLACES), w.pick(WORKPLACES)
    if not (a and b):
        return None
    i1, t1 = _choose(
        w.rng,
        (
            "I work at the {a} now, mostly weekend shifts.",
            "Got a job at the {a}, starting Monday.",
            "The {a} hired me! Pay is fine, people are nice.",
            "Day one at the {a} done, my feet hurt.",
        ),
    )
    i2, t2 = _choose(
        w.rng,
        (
            "I quit the {a}, I'm at the {b} now.",
            "New job: I left the {a} and started at the {b}.",
            "No more {a} for me, the {b} made me an offer.",
            "Handed in my notice at the {a}, the {b} starts next week.",
        ),
    )
    q = w.rng.choice(("Where does {o} work now?", "What is {o}'s current workplace?"))
    return _Plan(
        "update",
        f"job.{i1}{i2}",
        o,
        [t1.format(a=a), t2.format(a=a, b=b)],
        [1],
        q.format(o=o),
        b,
        ("job", o),
        superseded=[0],
    )


def _update_city(w: _World, o: str) -> _Plan | None:
    a, b = w.pick(CITIES), w.pick(CITIES)
    if not (a and b):
        return None
    i1, t1 = _choose(
        w.rng,
        (
            "We live in {a}, in a flat above a laundrette.",
            "Life in {a} is quiet, which suits us.",
            "Our place in {a} has the worst heating.",
            "Been in {a} for five years now, it feels like home.",
        ),
    )
    i2, t2 = _choose(
        w.rng,
        (
            "We moved from {a} to {b} last month, boxes everywhere.",
            "Goodbye {a}! The new place in {b} has a garden.",
            "Settling into {b}, I do not miss {a} yet.",
            "We left {a} for good, {b} is home now.",
        ),
    )
    q = w.rng.choice(("Which city does {o} live in now?", "Where is {o} living these days?"))
    return _Plan(
        "update",
        f"city.{i1}{i2}",
        o,
        [t1.format(a=a), t2.format(a=a, b=b)],
        [1],
        q.format(o=o),
        b,
        ("city", o),
        superseded=[0],
    )


def _update_car(w: _World, o: str) -> _Plan | None:
    a, b = w.pick(CARS), w.pick(CARS)
    if not (a and b):
        return None
    i1, t1 = _choose(
        w.rng,
        (
            "I drive an old {a}, held together with tape.",
            "My {a} failed to start again this morning.",
            "The {a} needs new tyres, of course.",
            "Drove the {a} to the coast, it survived.",
        ),
    )
    i2, t2 = _choose(
        w.rng,
        (
            "Sold the {a}, I'm driving a {b} now.",
            "Traded in the {a} for a {b}, so much quieter.",
            "Said goodbye to the {a}. Hello, {b}!",
            "The {a} is gone, picked up a secondhand {b} on {day}.",
        ),
    )
    q = w.rng.choice(("What car does {o} drive now?", "Which car does {o} have at the moment?"))
    return _Plan(
        "update",
        f"car.{i1}{i2}",
        o,
        [t1.format(a=a), t2.format(a=a, b=b, day=w.rng.choice(DAYS))],
        [1],
        q.format(o=o),
        b,
        ("car", o),
        superseded=[0],
    )


def _update_dating(w: _World, o: str) -> _Plan | None:
    a, b = w.pick(FIRST_NAMES), w.pick(FIRST_NAMES)
    if not (a and b):
        return None
    i1, t1 = _choose(
        w.rng,
        (
            "I'm seeing someone, {a}, it's early days.",
            "Second date with {a} on {day}, fingers crossed.",
            "{a} and I have been dating a month now.",
            "{a} cooked for me last night, I think this is going somewhere.",
        ),
    )
    i2, t2 = _choose(
        w.rng,
        (
            "{a} and I split up. I'm dating {b} now, it's going well.",
            "It ended with {a}. I met {b} at a friend's party, we are together now.",
            "After {a}, I did not expect to meet {b} so soon, but here we are.",
            "{b} and I are together now, things with {a} are long over.",
        ),
    )
    q = w.rng.choice(("Who is {o} dating now?", "Who is {o}'s current partner?"))
    return _Plan(
        "update",
        f"dating.{i1}{i2}",
        o,
        [t1.format(a=a, day=w.rng.choice(DAYS)), t2.format(a=a, b=b)],
        [1],
        q.format(o=o),
        b,
        ("dating", o),
        {"people": [a]},
        superseded=[0],
    )


def _update_coffee(w: _World, o: str) -> _Plan | None:
    a, b = w.pick(DRINKS), w.pick(DRINKS)
    if not (a and b):
        return None
    i1, t1 = _choose(
        w.rng,
        (
            "My usual order is a {a}, every single morning.",
            "Can't start the day without a {a}.",
            "The barista knows me now, a {a} before I even ask.",
            "A {a} and a croissant, that is my morning.",
        ),
    )
    i2, t2 = _choose(
        w.rng,
        (
            "I've switched from {a} to {b}, new era.",
            "No more {a}, I'm a {b} person now.",
            "The barista was shocked when I ordered a {b} instead of my {a}.",
            "Gave up the {a}, it is {b} from now on.",
        ),
    )
    q = w.rng.choice(("What coffee does {o} usually order now?", "What is {o}'s regular coffee order now?"))
    return _Plan(
        "update",
        f"coffee.{i1}{i2}",
        o,
        [t1.format(a=a), t2.format(a=a, b=b)],
        [1],
        q.format(o=o),
        b,
        ("coffee", o),
        superseded=[0],
    )


def _para_instrument(w: _World, o: str) -> _Plan | None:
    x = w.pick(INSTRUMENTS)
    if not x:
        return None
    i, t = _choose(
        w.rng,
        (
            "I've started taking {x} lessons on Tuesdays.",
            "Practised {x} for an hour, the neighbours must hate me.",
            "Signed up for {x} classes at the community hall.",
            "Finally bought my own {x}, renting was getting expensive.",
        ),
    )
    q = w.rng.choice(("What instrument is {o} learning?", "Which musical instrument has {o} taken up?"))
    return _Plan(
        "paraphrase", f"instrument.{i}", o, [t.format(x=x)], [0], q.format(o=o), x, ("instrument", o)
    )


def _para_language(w: _World, o: str) -> _Plan | None:
    x = w.pick(LANGUAGES)
    if not x:
        return None
    i, t = _choose(
        w.rng,
        (
            "My {x} classes are going well, I can order coffee now.",
            "Trying to do twenty minutes of {x} vocabulary a day.",
            "Had my first {x} conversation with a native speaker, so awkward.",
            "The {x} grammar is breaking my brain.",
        ),
    )
    q = w.rng.choice(("Which language is {o} studying?", "What foreign tongue is {o} trying to learn?"))
    return _Plan("paraphrase", f"language.{i}", o, [t.format(x=x)], [0], q.format(o=o), x, ("language", o))


def _para_fear(w: _World, o: str) -> _Plan | None:
    x = w.pick(FEARS)
    if not x:
        return None
    i, t = _choose(
        w.rng,
        (
            "{X} terrify me, honestly.",
            "Won't go near {x}, never have.",
            "{X} freak me out, I had to leave the room.",
            "If I see {x} I scream, no shame.",
        ),
    )
    q = w.rng.choice(("What is {o} afraid of?", "What creatures is {o} scared of?"))
    return _Plan(
        "paraphrase", f"fear.{i}", o, [t.format(x=x, X=x.capitalize())], [0], q.format(o=o), x, ("fear", o)
    )


def _para_sport(w: _World, o: str) -> _Plan | None:
    x = w.pick(SPORTS)
    if not x:
        return None
    i, t = _choose(
        w.rng,
        (
            "Joined a {x} club near the office, three evenings a week.",
            "{X} practice on {day} wiped me out.",
            "My {x} coach says my technique is improving.",
            "Bought proper {x} gear, I'm committed now.",
        ),
    )
    q = w.rng.choice(("What physical activity did {o} take up?", "Which athletic pursuit is {o} into?"))
    return _Plan(
        "paraphrase",
        f"sport.{i}",
        o,
        [t.format(x=x, X=x.capitalize(), day=w.rng.choice(DAYS))],
        [0],
        q.format(o=o),
        x,
        ("sport", o),
    )


def _para_band(w: _World, o: str) -> _Plan | None:
    x = w.pick(BANDS)
    if not x:
        return None
    i, t = _choose(
        w.rng,
        (
            "Can't stop listening to {x}, their new album is on repeat.",
            "Got tickets to see {x} live, front row.",
            "{x} released a single on {day} and I've played it fifty times.",
            "Everyone on the bus must know every {x} song by now.",
        ),
    )
    q = w.rng.choice(("Which musical group is {o} obsessed with?", "What band does {o} adore?"))
    return _Plan(
        "paraphrase",
        f"band.{i}",
        o,
        [t.format(x=x, day=w.rng.choice(DAYS))],
        [0],
        q.format(o=o),
        x,
        ("band", o),
    )


FAMILIES: dict[str, tuple[_Family, ...]] = {
    "single-hop": (_single_move, _single_pet, _single_allergy, _single_gift, _single_hometown),
    "multi-hop": (_multi_dog, _multi_manager, _multi_bakery, _multi_boat, _multi_partner_job),
    "temporal": (_temporal,),
    "update": (_update_job, _update_city, _update_car, _update_dating, _update_coffee),
    "paraphrase": (_para_instrument, _para_language, _para_fear, _para_sport, _para_band),
}
# facts planted per kind beyond those asked: a question that fails its checks is dropped, a spare asked
_SPARE = 3
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip


def _valid(p: _Plan) -> bool:
    """The plan's own word rules: multi-hop's answer turn and paraphrase's turn share no content word
    with the question; single-hop and update share some (they are the easy kinds)."""
    q = content_words(p.question)
    if p.kind == "multi-hop":
        return not (q & content_words(p.texts[1])) and p.answer not in p.texts[0]
    if p.kind == "paraphrase":
        return not (q & content_words(p.texts[0]))
    if p.kind == "single-hop":
        return bool(q & content_words(p.texts[0]))
    return True


def _plans(w: _World, want: int) -> dict[str, list[_Plan]]:
    plans: dict[str, list[_Plan]] = {k: [] for k in KINDS}
    keys: set[tuple[str, ...]] = set()
    for kind in KINDS:
        for _ in range(want * 40):
            if len(plans[kind]) >= want:
                break
            p = w.rng.choice(FAMILIES[kind])(w, w.rng.choice(w.speakers))
            if p is None or p.key in keys or not _valid(p):
                continue
            keys.add(p.key)
            if p.answer:
                w.reserved.add(p.answer)
            plans[kind].append(p)
    return plans


def _dates(rng: random.Random, n: int, solo: int) -> tuple[list[dt.date], set[int]]:
    """`n` increasing session dates over 1-3 years; `solo` of them alone in their month (day 8-27, so
    "yesterday" or "this week" stays in that month). Returns the dates and the solo sessions' indices."""
    months = max(rng.randint(12, 36), solo + 4)
    start_year, start_month = rng.randint(2018, 2023), rng.randint(1, 12)
    solo_months = set(rng.sample(range(months), solo))
    others = [m for m in range(months) if m not in solo_months]
    picked: set[tuple[int, int]] = {(m, rng.randint(8, 27)) for m in solo_months}
    while len(picked) < n:
        picked.add((rng.choice(others), rng.randint(1, 28)))
    out = []
    solo_idx = set()
    for i, (m, day) in enumerate(sorted(picked)):
        y, mo = divmod(start_month - 1 + m, 12)
        out.append(dt.date(start_year + y, mo + 1, day))
        if m in solo_months:
            solo_idx.add(i)
    return out, solo_idx


def _fmt(d: dt.date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _fill(rng: random.Random, template: str, fillers: dict[str, list[str]], not_people: set[str]) -> str:
    """A small-talk template with its slots filled (a person not in `not_people`)."""
    people = [p for p in fillers["person"] if p not in not_people] or fillers["person"]
    return template.format(
        person=rng.choice(people),
        boat=rng.choice(fillers["boat"] or ["the boat"]),
        city=rng.choice(fillers["city"]),
        work=rng.choice(fillers["work"]),
        pet=rng.choice(fillers["pet"]),
        food=rng.choice(FOODS),
        show=rng.choice(SHOWS),
        weather=rng.choice(WEATHER),
        day=rng.choice(DAYS),
        hobby=rng.choice(HOBBIES),
        teams=rng.choice(TEAMS),
        chore=rng.choice(CHORES),
    )


def _small_talk(
    rng: random.Random,
    fillers: dict[str, list[str]],
    speaker: str,
    speakers: tuple[str, ...],
    prev_asked: bool,
) -> str:
    """One small-talk turn of one to three sentences (a reaction, a statement, maybe a question)."""
    topics = [t for t in SMALL_TALK if t != "boating" or fillers["boat"]]
    parts = []
    template = rng.choice(SMALL_TALK[rng.choice(topics)])
    line = _fill(rng, template, fillers, {speaker})
    if prev_asked or rng.random() < 0.35:
        opener = rng.choice(OPENERS)
        # "Honestly, it has been..." but "Honestly, I..." and "Honestly, Ana..." keep their capital
        if opener.endswith(",") and not template.startswith(("{", "I ")):
            line = line[0].lower() + line[1:]
        parts.append(opener)
    parts.append(line)
    if rng.random() < 0.4:
        parts.append(_fill(rng, rng.choice(SMALL_TALK[rng.choice(topics)]), fillers, {speaker}))
    if rng.random() < 0.3:
        # asking after someone: never one of the speakers
        parts.append(_fill(rng, rng.choice(ASKS), fillers, set(speakers)))
    return " ".join(parts)


def _matches(text: str, answer: str) -> list[tuple[int, int]]:
    return [
        m.span() for m in re.finditer(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", text, flags=re.IGNORECASE)
    ]


def answer_spans_ok(h: History, q: MemoryQuestion) -> bool:
    """Whether `q.answer` occurs in the rendered history only inside its evidence (for temporal
    questions: only in the date header of the evidence turn's session), and at least once there."""
    text, spans = render(h)
    if q.kind == "temporal":
        session = next(s for s in h.sessions if any(t.id == q.evidence[0] for t in s.turns))
        allowed = [header_spans(h)[session.id]]
    else:
        allowed = [spans[e] for e in q.evidence if e in spans]
    found = _matches(text, q.answer)
    return bool(found) and all(any(a <= s and e <= b for a, b in allowed) for s, e in found)


def _history(hid: str, rng: random.Random, qpk: int, min_sessions: int, max_sessions: int) -> History:
    n_speakers = 3 if rng.random() < 0.2 else 2
    speakers = tuple(rng.sample(FIRST_NAMES, n_speakers))
    w = _World(rng, speakers)
    w.taken.update(speakers)
    want = qpk + _SPARE
    plans = _plans(w, want)
    n_sessions = max(rng.randint(min_sessions, max_sessions), want + 2)
    dates, solo = _dates(rng, n_sessions, len(plans["temporal"]))
    # where each fact's turns go: temporal facts alone in their month; two-turn facts in two sessions
    # at least two apart (so the link or the change spans sessions)
    placed: dict[int, list[tuple[_Plan, int]]] = {i: [] for i in range(n_sessions)}
    for p, s in zip(plans["temporal"], sorted(solo, key=lambda _: rng.random()), strict=False):
        placed[s].append((p, 0))
    for kind in ("single-hop", "multi-hop", "update", "paraphrase"):
        for p in plans[kind]:
            if len(p.texts) == 1:
                placed[rng.randrange(n_sessions)].append((p, 0))
            else:
                first = rng.randrange(n_sessions - 2)
                placed[first].append((p, 0))
                placed[rng.randrange(first + 2, n_sessions)].append((p, 1))
    # small-talk fillers: the facts' people and bridge names, and places and things no answer uses
    people = list(speakers)
    pets: list[str] = []
    boats: list[str] = []
    for ps in plans.values():
        for p in ps:
            people += [x for x in p.mentions.get("people", []) if x not in w.reserved]
            pets += [x for x in p.mentions.get("pets", []) if x not in w.reserved]
            boats += [x for x in p.mentions.get("boats", []) if x not in w.reserved]
    fillers = {
        "person": people,
        "city": [c for c in CITIES if c not in w.reserved],
        "work": [x for x in WORKPLACES if x not in w.reserved],
        "pet": pets or [x for x in PET_NAMES if x not in w.reserved and x not in w.taken][:3],
        "boat": boats,
    }
    # words of small talk left to write: each session takes its share (+-30%), the last the rest, so a
    # history lands near its target (7.6k-19.8k words: about 10k-28k tokens with the facts)
    words_left = rng.randint(7600, 19800)
    sessions: list[Session] = []
    turn_of: dict[tuple[int, int], str] = {}  # (plan id, text index) -> turn id
    for si in range(n_sessions):
        share = words_left / (n_sessions - si)
        budget = int(share if si == n_sessions - 1 else share * rng.uniform(0.7, 1.3))
        texts: list[tuple[str, str]] = []
        words = 0
        asked = False
        order = list(speakers)
        rng.shuffle(order)
        while words < budget:
            speaker = order[len(texts) % len(order)] if rng.random() < 0.85 else rng.choice(speakers)
            t = _small_talk(rng, fillers, speaker, speakers, asked)
            asked = t.endswith("?")
            texts.append((speaker, t))
            words += len(t.split())
        words_left -= words
        facts = placed[si]
        # fact turns replace nothing: each goes in at a random place, followed by a reaction
        slots = sorted(rng.sample(range(len(texts) + 1), len(facts)))
        entries: list[tuple[str, str, tuple[int, int] | None]] = [(s, t, None) for s, t in texts]
        for off, (slot, (p, k)) in enumerate(zip(slots, facts, strict=True)):
            at = slot + 2 * off
            other = rng.choice([s for s in speakers if s != p.owner])
            entries[at:at] = [(p.owner, p.texts[k], (id(p), k)), (other, rng.choice(REACTIONS), None)]
        turns = []
        for ti, (speaker, t, ref) in enumerate(entries, 1):
            tid = f"D{si + 1}:{ti}"
            turns.append(Turn(tid, speaker, t))
            if ref is not None:
                turn_of[ref] = tid
        sessions.append(Session(f"S{si + 1}", _fmt(dates[si]), turns))
    h = History(hid, speakers, sessions, [])
    session_of = {t.id: s for s in sessions for t in s.turns}
    for kind in KINDS:
        kept = 0
        for p in plans[kind]:
            if kept >= qpk:
                break
            ids = [turn_of[(id(p), k)] for k in range(len(p.texts))]
            answer = p.answer
            if kind == "temporal":
                d = session_of[ids[0]].date.split()
                answer = f"{d[1]} {d[2]}"
            q = MemoryQuestion(
                f"{hid}:q{len(h.questions)}",
                p.question,
                answer,
                tuple(ids[i] for i in p.evidence),
                kind,
                p.template,
                tuple(ids[i] for i in p.superseded),
            )
            if answer_spans_ok(h, q):
                h.questions.append(q)
                kept += 1
    return h


def generate(
    n_histories: int,
    seed: int,
    questions_per_kind: int = 3,
    min_sessions: int = 20,
    max_sessions: int = 30,
) -> list[History]:
    """`n_histories` long synthetic histories (10k-30k tokens, `min_sessions`..`max_sessions` sessions),
    each with `questions_per_kind` questions of every kind in `KINDS`; the same for the same seed."""
    if questions_per_kind < 1 or min_sessions < 3 or max_sessions < min_sessions:
        raise ValueError(
            "generate: questions_per_kind must be >= 1 and 3 <= min_sessions <= max_sessions "
            f"(got {questions_per_kind}, {min_sessions}, {max_sessions})."
        )
    out = []
    for i in range(n_histories):
        for attempt in range(20):
            rng = random.Random(f"memory:{seed}:{i}:{attempt}")
            h = _history(f"memory-{seed}-{i}", rng, questions_per_kind, min_sessions, max_sessions)
            counts = [sum(q.kind == k for q in h.questions) for k in KINDS]
            if min(counts) >= questions_per_kind:
                break
        else:
            raise ValueError(
                f"generate: could not plant {questions_per_kind} questions of every kind in history {i}; "
                "use a smaller questions_per_kind (up to 6 is safe)."
            )
        out.append(h)
    return out


# --- users' files ----------------------------------------------------------------------------------

_SHAPE = (
    '{"histories": [{"id": "...", "sessions": [{"id": "...", "date": "8 May 2023", "turns": '
    '[{"id": "...", "speaker": "...", "text": "..."}]}], "questions": [{"question": "...", '
    '"answer": "...", "evidence": ["<turn id>"], "kind": "single-hop"}]}]}'
)


class _TurnIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    speaker: str
    text: str


class _SessionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    date: str
    turns: list[_TurnIn]


class _QuestionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    question: str
    # benchmarks store some answers as numbers (a year, a count)
    answer: str | int | float
    evidence: list[str]
    kind: str = "single-hop"
    # written by write_histories so generated sets round-trip; absent in benchmarks' files
    template: str = ""
    superseded: list[str] = []


class _HistoryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    speakers: list[str] | None = None
    sessions: list[_SessionIn]
    questions: list[_QuestionIn] = []


class _FileIn(BaseModel):
    histories: list[_HistoryIn]


def _place(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_histories(path: str | Path) -> list[History]:
    """Histories from a user's JSON file: `{"histories": [...]}` or a list of histories (the shape
    public memory benchmarks use). Every problem is a CompressError naming the file, the place and
    the fix."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise CompressError(
            f"memory.path={p}: no such file. Point it at a JSON file of histories shaped like {_SHAPE}."
        )
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompressError(
            f"memory.path={p}: not valid UTF-8 JSON ({exc}). Write the file as one JSON document shaped like {_SHAPE}."
        ) from exc
    if isinstance(raw, list):
        raw = {"histories": raw}
    try:
        parsed = _FileIn.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _place(err["loc"]) or "the top level"
        if err["type"] == "missing":
            fix = f"add the field {err['loc'][-1]!r}"
        else:
            fix = f"fix its value ({err['msg']})"
        raise CompressError(
            f"memory.path={p}: {where}: {err['msg']}; {fix}. Each history is shaped like {_SHAPE}."
        ) from exc
    histories: list[History] = []
    seen_ids: set[str] = set()
    for hi, hin in enumerate(parsed.histories):
        where = f"histories[{hi}]"
        if hin.id in seen_ids:
            raise CompressError(
                f"memory.path={p}: {where}.id {hin.id!r} repeats an earlier history's id; give each history its own id."
            )
        seen_ids.add(hin.id)
        if not any(s.turns for s in hin.sessions):
            raise CompressError(
                f"memory.path={p}: {where} ({hin.id!r}) has no turns; add sessions with turns or drop it."
            )
        turn_ids: set[str] = set()
        sessions = []
        for si, s in enumerate(hin.sessions):
            turns = []
            for ti, t in enumerate(s.turns):
                if t.id in turn_ids:
                    raise CompressError(
                        f"memory.path={p}: {where}.sessions[{si}].turns[{ti}].id {t.id!r} repeats an earlier "
                        "turn id of this history; turn ids must be unique within a history."
                    )
                turn_ids.add(t.id)
                turns.append(Turn(t.id, t.speaker, t.text))
            sessions.append(Session(s.id, s.date, turns))
        questions = []
        for qi, q in enumerate(hin.questions):
            for ei, e in enumerate(q.evidence):
                if e not in turn_ids:
                    raise CompressError(
                        f"memory.path={p}: {where}.questions[{qi}].evidence[{ei}] is {e!r}, which is no turn id "
                        f"of history {hin.id!r}; list the ids of the turns that hold the answer."
                    )
            questions.append(
                MemoryQuestion(
                    q.id if q.id is not None else f"{hin.id}:q{qi}",
                    q.question,
                    str(q.answer),
                    tuple(q.evidence),
                    q.kind,
                    q.template,
                    tuple(q.superseded),
                )
            )
        speakers = (
            tuple(hin.speakers)
            if hin.speakers
            else tuple(dict.fromkeys(t.speaker for s in sessions for t in s.turns))
        )
        histories.append(History(hin.id, speakers, sessions, questions))
    if not histories:
        raise CompressError(
            f"memory.path={p}: the file holds no histories; add at least one shaped like {_SHAPE}."
        )
    return histories


def write_histories(histories: Iterable[History], path: str | Path) -> None:
    """Write histories as `{"histories": [...]}` JSON, the shape `read_histories` reads."""
    data = {
        "histories": [
            {
                "id": h.id,
                "speakers": list(h.speakers),
                "sessions": [
                    {
                        "id": s.id,
                        "date": s.date,
                        "turns": [{"id": t.id, "speaker": t.speaker, "text": t.text} for t in s.turns],
                    }
                    for s in h.sessions
                ],
                "questions": [
                    {
                        "id": q.id,
                        "question": q.question,
                        "answer": q.answer,
                        "evidence": list(q.evidence),
                        "kind": q.kind,
                        "template": q.template,
                        "superseded": list(q.superseded),
                    }
                    for q in h.questions
                ],
            }
            for h in histories
        ]
    }
    Path(path).expanduser().write_text(
        json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )

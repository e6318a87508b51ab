"""The hybrid compressor on hand-made histories: the second hop of a multi-hop answer found through the
name the first hop introduces, a kept turn keeping its session's date, the latest statement of a
changed fact, a repeated sentence once, irrelevant documents dropped whole by a threshold, several
texts in one budget, and the per-unit cache (a history grown by one turn embeds only that turn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline
from compress.algorithms.compressors.hybrid import (
    Hybrid,
    HybridScorer,
    HybridSettings,
    auto_shape,
    speakers_of,
    terms_of,
)
from compress.algorithms.text.units import join_documents
from compress.infra.llm.tokens import TokenCounter
from compress.library.load import load_compressor
from tests.conftest import CACHE

COUNTER = TokenCounter("local/gemma3-270m", CACHE)

SMALL_TALK = [
    "Ana: The weather has been grey all week, I miss the sun.",
    "Bob: Same here, the rain never stops.",
    "Ana: I tried a new pasta recipe with lemon and it was great.",
    "Bob: Nice, send me the recipe some time.",
    "Ana: Work was busy, three meetings before lunch.",
    "Bob: Ugh, meetings are the worst part of the week.",
    "Ana: We watched a documentary about whales last night.",
    "Bob: I love whales, they sing to each other.",
]


def history(facts: dict[int, str], sessions: int = 12) -> str:
    """A dated chat of `sessions` sessions of small talk, with `facts[i]` said in session i."""
    out = []
    for i in range(sessions):
        out.append(f"Session {i + 1} ({i + 1} March 2023)")
        out += [line.replace("week", f"week {i}") for line in SMALL_TALK]
        if i in facts:
            out.append(facts[i])
        out.append("")
    return "\n".join(out).strip()


@pytest.fixture(scope="module")
def hybrid() -> Hybrid:
    return Hybrid(BaselineContext(CACHE))


def run(c: object, text: str, query: str, rate: float) -> str:
    n = COUNTER.count(text)
    (out,) = c.compress_many([Request(text, max(1, int(rate * n)), None, query, tokens=n)], COUNTER)  # type: ignore[attr-defined]
    return out.text


def test_terms_are_stemmed_words_without_function_words() -> None:
    assert terms_of("Where did Ana's dogs go?") == ["ana", "dog"]


def test_a_chat_is_read_as_turns_with_speakers(hybrid: Hybrid) -> None:
    text = history({})
    assert auto_shape(None, text) == "chat"
    lay = hybrid.scorer.layout(text, "chat", COUNTER)
    tag, who = speakers_of(lay)
    said = [lay.text[u.start : u.end] for u in lay.units]
    assert {said[i] for i in np.flatnonzero(tag)} == {"Ana:", "Bob:"}
    assert who[said.index("The weather has been grey all week 0, I miss the sun.")] == "Ana"


def test_the_second_hop_is_found_through_the_name_the_first_introduces(hybrid: Hybrid) -> None:
    text = history(
        {
            2: "Ana: We adopted a greyhound from the shelter, we named him Biscuit.",
            9: "Ana: Biscuit twisted a leg chasing ducks by the lake near Hallstatt.",
        }
    )
    q = "Where was Ana's greyhound injured?"
    out = run(hybrid, text, q, 0.08)
    assert "named him Biscuit" in out and "near Hallstatt" in out
    # the second hop shares no word with the question: BM25 alone does not find it at this budget
    assert "near Hallstatt" not in run(make_baseline("bm25", BaselineContext(CACHE)), text, q, 0.08)


def test_a_kept_turn_keeps_its_sessions_date(hybrid: Hybrid) -> None:
    text = history({6: "Bob: I finally passed my driving test yesterday."})
    out = run(hybrid, text, "When did Bob pass his driving test?", 0.05)
    assert "passed my driving test" in out
    assert "Session 7 (7 March 2023)" in out


def test_the_latest_statement_of_a_changed_fact_goes_first(hybrid: Hybrid) -> None:
    text = history(
        {1: "Ana: I work at the bakery on Elm Street.", 10: "Ana: I work at the city library now."}
    )
    out = run(hybrid, text, "Where does Ana work?", 0.035)
    assert "city library" in out


def test_a_repeated_sentence_is_kept_once(hybrid: Hybrid) -> None:
    line = "Ana: My locker code at the gym is 4417, do not tell anyone."
    text = history({2: line, 8: line})
    out = run(hybrid, text, "What is Ana's locker code?", 0.1)
    assert out.count("locker code at the gym is 4417") == 1


def test_a_threshold_drops_irrelevant_documents_whole(hybrid: Hybrid) -> None:
    docs = [
        "The zlib module compresses data with DEFLATE. Its default compression level is 6.",
        "Whales sing to each other across whole oceans. Their songs change every year.",
        "The heapq module keeps a list as a binary heap. The smallest item is at index 0.",
    ]
    text, _ = join_documents(docs)
    r = Request(text, None, None, "What is zlib's default compression level?", threshold=1.0)
    (out,) = hybrid.compress_many([r], COUNTER)
    assert "level is 6" in out.text and "Whales" not in out.text


def test_several_texts_share_one_budget(hybrid: Hybrid) -> None:
    docs = [history({3: "Ana: My sister Leila moved to Porto last spring."}), history({})]
    text, _ = join_documents(docs)
    n = COUNTER.count(text)
    outs = hybrid.compress_joint(docs, Request(text, n // 10, None, "Where did Ana's sister move?"), COUNTER)
    assert len(outs) == 2 and "moved to Porto" in outs[0]
    assert sum(COUNTER.count(o) for o in outs) <= n // 10 + 8


def test_a_grown_history_embeds_only_its_new_turn(tmp_path: Path) -> None:
    scorer = HybridScorer(CACHE)
    seen: list[str] = []
    embed = scorer.sentence.embed

    def spy(texts: list[str], batch: int = 64) -> np.ndarray:
        seen.extend(texts)
        return embed(texts, batch)

    scorer.sentence.embed = spy  # type: ignore[method-assign]
    try:
        text = history({4: "Bob: My cousin Ines relocated to Nantes."})
        for grown in (text, text + "\nAna: Did Ines like Nantes in the end?"):
            seen.clear()
            lay = scorer.layout(grown, "chat", COUNTER)
            scorer.scores(lay, "Where does Bob's cousin live?")
            if grown == text:
                assert len(seen) > 40  # every distinct sentence and header once, and the question
        assert seen == ["Did Ines like Nantes in the end?"]
    finally:
        scorer.sentence.embed = embed  # type: ignore[method-assign]


def test_no_question_keeps_a_chats_latest_turns(hybrid: Hybrid) -> None:
    text = history({11: "Ana: See you at the station at nine."})
    n = COUNTER.count(text)
    (out,) = hybrid.compress_many([Request(text, n // 10)], COUNTER)
    assert "station at nine" in out.text and "Session 1 (" not in out.text


def test_it_loads_by_name_and_meets_the_budget() -> None:
    c = load_compressor("hybrid")
    text = history({5: "Ana: The spare key is under the blue flower pot."})
    res = c.compress(text, rate=0.1, query="Where is the spare key?")
    assert "blue flower pot" in res.compressed
    assert res.tokens_after <= round(0.1 * res.tokens_before)


def test_static_embeddings_are_the_cheaper_first_pass() -> None:
    """`dense_model=static`: the encoder's token table, computed once per machine, read by lookup."""
    scorer = HybridScorer(CACHE, HybridSettings(dense_model="static"))
    v = scorer.vectors(["I have started taking cello lessons", "The bakery sells rye bread", "cello"])
    assert (CACHE / "static" / "all-MiniLM-L6-v2.npy").is_file()
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    assert v[0] @ v[2] > v[1] @ v[2]
    text = history({3: "Ana: My locker code at the gym is 4417."})
    lay = scorer.layout(text, "chat", COUNTER)
    score, relevant = scorer.scores(lay, "What is Ana's locker code?")
    best = int(np.argmax(score))
    assert "4417" in lay.text[lay.units[best].start : lay.units[best].end] and relevant is not None


def test_context_brings_the_turn_a_relevant_turn_answers() -> None:
    """`context` (0 by default: tuning found no gain) gives the turn before a relevant turn a share of
    its score: the question Bob's answer replies to."""
    text = history({4: "Ana: What did you name the new puppy?\nBob: We called her Pepper, after the sauce."})
    q = "What is the name of Bob's puppy Pepper?"
    scores = {}
    for context in (0.0, 1.0):
        scorer = HybridScorer(CACHE, HybridSettings(context=context, dense=0.0, bridge=0.0))
        lay = scorer.layout(text, "chat", COUNTER)
        score, _ = scorer.scores(lay, q)
        said = [lay.text[u.start : u.end] for u in lay.units]
        scores[context] = score[said.index("What did you name the new puppy?")]
    assert scores[1.0] > scores[0.0]

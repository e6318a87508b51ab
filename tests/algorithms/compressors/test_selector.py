"""The selector kind: answer-following labels from corpora (never a held-out text), training, reload,
budgets in the target model's tokens, threshold mode, several texts with one budget, code that still
parses, and (slow) a selector trained at a real scale keeping the unit that answers the question."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError
from transformers import AutoTokenizer

from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.coarse import parses
from compress.algorithms.compressors.encoder import BUNDLED_ENCODER, Framing, encode, encoder_path
from compress.algorithms.kinds.selector import (
    SelectorCompressor,
    SelectorMeta,
    load_selector,
    match_marks,
    text_pool,
    train_selector,
)
from compress.algorithms.teachers.answers import answer_examples, normal
from compress.algorithms.text.units import join_documents
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.library.load import load_compressor
from tests.conftest import CACHE, ROOT

DOCS = [
    "The zlib module compresses data with DEFLATE. Its default compression level is 6. Level 9 is the "
    "slowest and gives the smallest output.",
    "The heapq module keeps a list as a binary heap. The smallest item is always at index 0. Pushing an "
    "item costs log n comparisons.",
    "The sched module runs events at given times. Each event has a priority. Events with equal times run "
    "in priority order.",
    "The bisect module finds insertion points in sorted lists. It does not sort the list for you. The "
    "function insort keeps the list sorted.",
]


def selector_cfg(**over: Any) -> Any:
    """The job config the train stage would pass: conf/compressor/selector.yaml with overrides."""
    node = OmegaConf.load(ROOT / "conf" / "compressor" / "selector.yaml")
    assert isinstance(node, DictConfig)
    node.pop("defaults")  # Hydra's defaults list: the schema it composes onto
    # all the selector's training reads (`Selector.train_reads`): its node and the seed
    cfg = OmegaConf.create({"seed": 0, "compressor": node})
    for key, value in over.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg


SMALL = {
    "compressor.labels.sources": {"stdlib_nl": 300},
    "compressor.labels.examples": 160,
    "compressor.encoder_layers": 1,
    "compressor.max_length": 128,
    "compressor.batch_size": 16,
    "compressor.threads": 2,
    # the encoder reads every text: the path these tests pin (the hybrid first pass has its own test)
    "compressor.first_pass": "encoder",
    "compressor.labels.memory": 0,
}
COUNTER = TokenCounter("local/gemma3-270m", CACHE)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("selector")
    held = {normal(DOCS[0])}
    result = train_selector(selector_cfg(**SMALL), [{"original": DOCS[1]}], out, lambda m, s: None, held)
    return out / "adapter", result


@pytest.fixture(scope="module")
def selector(trained: tuple[Path, dict[str, Any]]) -> SelectorCompressor:
    adapter, _ = trained
    meta = SelectorMeta.model_validate_json((adapter / "compressor.json").read_text())
    return load_selector(adapter, meta)


def test_labels_follow_answers_among_distractors() -> None:
    texts = [*DOCS, "No fact here at all, just words and more words without any."]
    examples = answer_examples(texts, 60, seed=3, k_max=3, no_query_share=0.25, parts=3)
    assert len(examples) == 60
    asked = [e for e in examples if e.query]
    assert 0 < len(asked) < 60 and all(e.needed for e in examples)
    for e in asked:
        a, b = e.needed[0]
        answer = e.context[a:b]
        # the answer stands in exactly one of the joined texts: the one at `position`
        docs = e.context.split("\n\n")
        assert len(docs) == e.documents and sum(answer in d for d in docs) == 1 and answer in docs[e.position]
    assert len({e.position for e in asked}) > 1  # not always first
    assert answer_examples(texts, 60, 3, 3, 0.2, 3) == answer_examples(texts, 60, 3, 3, 0.2, 3)


def test_the_text_pool_never_holds_a_held_out_text() -> None:
    cfg = selector_cfg(**{"compressor.labels.sources": {"stdlib_nl": 200}}).compressor
    pool = text_pool(cfg, 0, set(), [])
    held = {normal(t) for t in pool[:50]}
    again = text_pool(cfg, 0, held, [pool[0], "An extra text of the run's own train split."])
    assert not held & {normal(t) for t in again}
    assert "An extra text of the run's own train split." in again and len(again) == len(pool) - 50 + 1
    bad = selector_cfg(**{"compressor.labels.sources": {"nonesuch": 5}}).compressor
    with pytest.raises(CompressError, match="nonesuch"):
        text_pool(bad, 0, set(), [])


def test_a_seeded_training_run_takes_the_same_first_steps(trained: tuple[Path, dict[str, Any]]) -> None:
    """Pinned: the first losses of the small seeded run (labels, windows, question marks, init and
    optimizer all feed them), so a change to any of them shows here rather than in a study."""
    _, result = trained
    assert result["metrics"]["windows"] == 1038
    losses = [h["loss"] for h in result["history"][:4]]
    assert losses == pytest.approx([0.733985, 0.710528, 0.670647, 0.574789], rel=2e-3)


def test_training_saves_what_loading_reads(trained: tuple[Path, dict[str, Any]]) -> None:
    adapter, result = trained
    meta = json.loads((adapter / "compressor.json").read_text())
    assert meta["kind"] == "selector" and meta["encoder_layers"] == 1 and meta["quantize"] == "int8"
    m = result["metrics"]
    assert m["label_examples"] == 160 and m["windows"] >= 160 and 0 < m["label_positive_share"] < 0.5
    assert len(result["history"]) == m["steps"] > 0
    with pytest.raises(ValidationError, match="surprise"):
        SelectorMeta.model_validate(meta | {"surprise": 1})


@pytest.mark.parametrize("budget", [100, 300, 1000])
def test_budgets_are_held_within_two_percent(selector: SelectorCompressor, budget: int) -> None:
    text = "\n\n".join(DOCS * 12)
    (out,) = selector.compress_many(
        [Request(text, budget, query="What is the default compression level?")], COUNTER
    )
    n = COUNTER.count(out.text)
    assert budget * 0.98 <= n <= budget, (budget, n)


def test_threshold_mode_keeps_the_units_scoring_above_it(selector: SelectorCompressor) -> None:
    context, _ = join_documents(DOCS)
    req = Request(context, query="What is the default compression level?")
    (s,) = selector.score([req], COUNTER)
    units = [context[u.start : u.end] for u in s.lay.units]
    for threshold in np.quantile(s.unit, [0.2, 0.5, 0.9]).tolist():
        (out,) = selector.compress_many([Request(context, query=req.query, threshold=threshold)], COUNTER)
        text = out.text
        kept = [u for u, score in zip(units, s.unit, strict=True) if score >= threshold]
        assert all(u in text for u in kept)
        assert not any(u in text for u, score in zip(units, s.unit, strict=True) if score < threshold)


def test_several_texts_share_one_budget(selector: SelectorCompressor) -> None:
    context, _ = join_documents(DOCS)
    budget = COUNTER.count(context) // 3
    outs = selector.compress_joint(
        DOCS, Request(context, budget, query="Where is the smallest item?"), COUNTER
    )
    assert len(outs) == len(DOCS)
    assert sum(COUNTER.count(o) for o in outs) <= budget + 2
    assert all(o == "" or o in d or all(w in d for w in o.split()) for o, d in zip(outs, DOCS, strict=True))


def test_code_keeps_whole_statements_and_parses(selector: SelectorCompressor) -> None:
    code = (ROOT / "compress" / "algorithms" / "text" / "units.py").read_text()
    domain = OmegaConf.create({"name": "code"})
    n = COUNTER.count(code)
    for rate in (0.1, 0.3, 0.6):
        (out,) = selector.compress_many(
            [Request(code, round(rate * n), domain, "how are sentences split?")], COUNTER
        )
        assert parses(out.text) and COUNTER.count(out.text) <= round(rate * n)
        lines = {line.strip() for line in code.splitlines()} | {"..."}
        assert all(line.strip() in lines for line in out.text.splitlines())


def test_empty_and_short_texts_come_back_as_they_are(selector: SelectorCompressor) -> None:
    outs = selector.compress_many([Request("", 5), Request("   \n", 5), Request("Tiny text.", 50)], COUNTER)
    assert [o.text for o in outs] == ["", "   \n", "Tiny text."]


@pytest.mark.slow
def test_a_trained_selector_keeps_the_unit_that_answers(tmp_path: Path) -> None:
    """At a real (if small) scale, with no lexical term: the question moves what is kept to the text
    and the sentence that hold its answer, wherever that text sits among the others. Seeded: 13 of 16
    with the question (the misses: the scheduler's "Each event has a priority." twice, bisect's once),
    2 of 16 without; a shortened sentence keeps its negation."""
    over = {
        "compressor.labels.sources": {"stdlib_nl": 2500, "pydoc_topics": 200},
        "compressor.labels.examples": 1500,
        "compressor.lexical": 0.0,
        "compressor.threads": 2,
        # the encoder alone, on what it reads of the whole text (as this test was pinned)
        "compressor.first_pass": "encoder",
        "compressor.labels.memory": 0,
    }
    train_selector(selector_cfg(**over), [], tmp_path, lambda m, s: None, {normal(d) for d in DOCS})
    meta = SelectorMeta.model_validate_json((tmp_path / "adapter" / "compressor.json").read_text())
    sel = load_selector(tmp_path / "adapter", meta)
    asks = {
        "Its default compression level is 6.": "What is the default compression level of zlib?",
        "The smallest item is always at index 0.": "At which index is the smallest item of the heap?",
        "Each event has a priority.": "What does each event of the scheduler have?",
        "It does not sort the list for you.": "Does bisect sort the list for you?",
    }
    kept = {True: 0, False: 0}
    for shift in range(len(DOCS)):
        docs = DOCS[shift:] + DOCS[:shift]
        context, _ = join_documents(docs)
        budget = COUNTER.count(context) // 4
        for sentence, q in asks.items():
            for asked in (True, False):
                (out,) = sel.compress_many([Request(context, budget, query=q if asked else None)], COUNTER)
                kept[asked] += sentence in out.text
                assert "does sort" not in out.text and "It sort" not in out.text, out.text
    assert kept[True] >= 13 and kept[False] <= 4, kept


def test_the_words_a_question_names_carry_its_segment_id() -> None:
    tok = AutoTokenizer.from_pretrained(encoder_path(BUNDLED_ENCODER))
    e = encode(tok, "The zlib level is 6. The heap index is 0.")
    marks = match_marks(e, "Which compression level does zlib use?")
    assert marks is not None and match_marks(e, None) is None and match_marks(e, "  ") is None
    named = {e.words.word(int(w)) for w in e.word_of[marks]}
    assert named == {"zlib", "level"}
    q = tok("Which level?", add_special_tokens=False)["input_ids"]
    w = Framing(tok).window(0, e.ids, 0, len(e.ids), q, marks)
    # [CLS] text [SEP] | question [SEP]: text tokens of named words get the question's id
    assert w.type_ids == [0, *marks.astype(int).tolist(), 0] + [1] * (len(q) + 1)
    plain = Framing(tok).window(0, e.ids, 0, len(e.ids), q)
    assert plain.type_ids == [0] * (len(e.ids) + 2) + [1] * (len(q) + 1)


FOUR = (
    "The harbour bridge was painted green in 1931. Tourists cross it every day.\n\n"
    "Mount Keller rises 2,114 metres. Its first ascent was in 1868 by Ilse Brandt."
)
DIALOGUE = (
    "John: So, um, I've been thinking about the project, you know, and I believe we need to, uh, make some "
    "changes. I mean, we want the project to succeed, right? So, like, I think we should consider maybe "
    "revising the timeline.\n\nSarah: I totally agree, John. I mean, we have to be realistic, you know. The "
    "timeline is, like, too tight. You know what I mean? We should definitely extend it."
)


def readable(out: str, source: str) -> bool:
    """Every sentence of `out` is a sentence of `source`, whole, or at least half of one, in order."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(source.split())) if s]
    for piece in (s for s in re.split(r"(?<=[.!?])\s+", " ".join(out.split())) if s):
        words = piece.split()
        if not any(
            all(w in s.split() for w in words) and len(words) >= len(s.split()) / 2 for s in sentences
        ):
            return False
    return True


@pytest.mark.parametrize("spec", ["bm25", "selector"])
def test_the_budget_goes_by_relevance_not_by_fit(spec: str, trained: tuple[Path, dict[str, Any]]) -> None:
    """The issue's four sentences: the answer's sentence does not fit after the Mount Keller one at rate
    0.5, and the sentence that shares nothing with the question may not take its place; what is left
    shortens the answer's sentence, facts first. At 0.6 both fit whole, and nothing else comes in."""
    c = load_compressor("bm25" if spec == "bm25" else trained[0])
    q = "Who first climbed Mount Keller?"
    half = c.compress(FOUR, rate=0.5, query=q).compressed
    assert "Tourists" not in half and "1868" in half and "Ilse Brandt" in half, half
    assert "Mount Keller rises 2,114 metres." in half and readable(half, FOUR), half
    more = c.compress(FOUR, rate=0.6, query=q).compressed
    assert (
        " ".join(more.split())
        == "Mount Keller rises 2,114 metres. Its first ascent was in 1868 by Ilse Brandt."
    )


@pytest.mark.parametrize("spec", ["bm25", "selector"])
def test_forced_tokens_keep_their_unit_or_go_with_it(spec: str, trained: tuple[Path, dict[str, Any]]) -> None:
    """LLMLingua-2's own dialogue at rate 0.33 with its forced punctuation: whole sentences come back,
    no punctuation or stray word of a dropped one; a forced word brings its sentence first."""
    c = load_compressor("bm25" if spec == "bm25" else trained[0])
    out = c.compress(DIALOGUE, rate=0.33, force_tokens=["\n", ".", "!", "?"]).compressed
    assert out and readable(out, DIALOGUE), out
    assert all(len(line.split()) >= 3 for line in out.splitlines() if line.strip()), out
    forced = c.compress(DIALOGUE, rate=0.33, force_tokens=["realistic"]).compressed
    assert "I mean, we have to be realistic, you know." in forced, forced


def test_a_trained_selector_budgets_in_the_target_models_tokens(trained: tuple[Path, dict[str, Any]]) -> None:
    """`target_model` reaches a trained kind: half of a text's tokens as gpt-4o's counter counts them
    (o200k where tiktoken can load it, else cl100k named as its proxy), not of its own tokenizer's."""
    text = "\n\n".join(DOCS * 10)
    gpt4o = TokenCounter("openai/gpt-4o", CACHE)
    with load_compressor(trained[0], target_model="openai/gpt-4o") as c:
        r = c.compress(text, rate=0.5, query="What is the default compression level?")
    assert r.tokenizer == gpt4o.name and r.tokenizer.startswith(("o200k_base", "cl100k_base"))
    assert r.tokens_before == gpt4o.count(text) != COUNTER.count(text)
    half = round(0.5 * r.tokens_before)
    assert 0.98 * half <= r.tokens_after <= half, (r.tokens_after, half)


def test_the_hybrid_first_pass_reads_only_the_candidates_with_the_encoder(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    """`first_pass=hybrid`: the hybrid pass scores every unit, the encoder reads only the best
    candidates' turns (its scores cached per question and unit), and the budget holds."""
    adapter, _ = trained
    meta = SelectorMeta.model_validate_json((adapter / "compressor.json").read_text())
    sel = load_selector(
        adapter, meta.model_copy(update={"first_pass": "hybrid", "candidates": 2.0}), "cpu", CACHE
    )
    chat = "\n".join(
        f"Session {i + 1} ({i + 1} May 2023)\nAna: We watched a film about whales, week {i}.\n"
        f"Bob: The rain kept us in all weekend, week {i}."
        for i in range(40)
    ).replace("week 17.", "week 17. My locker code at the gym is 4417.")
    n = COUNTER.count(chat)
    q = "What is Ana's locker code at the gym?"
    (out,) = sel.compress_many([Request(chat, n // 10, None, q, tokens=n)], COUNTER)
    assert "4417" in out.text and COUNTER.count(out.text) <= n // 10
    assert sel.hybrid is not None
    read = [k for k in sel.hybrid.memo if k[0] == "enc"]
    units = [k for k in sel.hybrid.memo if k[0] == "terms"]
    assert 0 < len(read) < len(units) // 3  # the candidates' units, not the history's

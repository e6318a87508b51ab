"""Teachers: structured answers with re-asking, the extractive teacher's rate and protected spans."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from compress.algorithms.data.amplify import amplify
from compress.algorithms.teachers.llm import LLMTeacher, parse_answer
from compress.algorithms.teachers.selfinfo import SelfInfoTeacher
from compress.infra.errors import CompressError
from compress.infra.llm.client import LLMSession, LLMSettings
from tests.conftest import CACHE
from tests.support.openai_server import OpenAIServer


def test_parse_answer() -> None:
    assert parse_answer('{"compressed": "short"}').compressed == "short"  # type: ignore[union-attr]
    assert parse_answer('Sure! {"compressed": "x y"} hope that helps').compressed == "x y"  # type: ignore[union-attr]
    assert parse_answer("short") is None
    assert parse_answer('{"compressed": ""}') is None
    assert parse_answer('{"summary": "x"}') is None


def _teacher(retries: int) -> LLMTeacher:
    cfg = OmegaConf.create(
        {
            "model": "openai/teacher",
            "rate": 0.5,
            "max_tokens": 64,
            "temperature": 0.0,
            "structured": True,
            "parse_retries": retries,
        }
    )
    # one call at a time: the server hands out its scripted replies in arrival order
    return LLMTeacher(cfg, LLMSession(LLMSettings(base_delay_s=0.01, concurrency={"openai": 1})))


DOM = OmegaConf.create({"instruction": "Compress."})


def test_structured_teacher_reasks_until_the_answer_parses(server: OpenAIServer) -> None:
    server.state.replies = ['{"compressed": "a"}', "here you go: b", '{"compressed": "b"}']
    outs = _teacher(retries=2)(["first text", "second text"], [DOM, DOM])
    assert [o.compressed for o in outs] == ["a", "b"]
    assert server.state.requests == 3


def test_structured_teacher_never_drops_a_sample(server: OpenAIServer) -> None:
    server.state.replies = ['{"compressed": "a"}', "no json", "still none"]
    with pytest.raises(CompressError, match="1 of 2 samples"):
        _teacher(retries=1)(["first text", "second text"], [DOM, DOM])


def test_selfinfo_meets_the_rate_and_keeps_protected_spans() -> None:
    text = (
        "The function os.path.join was added to the standard library a very long time ago, and it "
        "combines 3 path components into one single path string that the operating system understands well."
    )
    teacher = SelfInfoTeacher("gemma3-270m", CACHE, rate=0.3, unit="word", protect=["numbers", "identifiers"])
    out = teacher.compress_one(text)
    assert "os.path.join" in out and " 3 " in f" {out} "
    n_in, n_out = len(teacher.tok(text)["input_ids"]), len(teacher.tok(out)["input_ids"])
    assert 0.2 < n_out / n_in < 0.5  # requested 0.3: met up to the unit granularity
    budget = SelfInfoTeacher("gemma3-270m", CACHE, rate=1.0, unit="word", target_tokens=12)
    short = budget.compress_one(text)
    assert len(budget.tok(short, add_special_tokens=False)["input_ids"]) <= 16
    code = "def add(a, b):\n    # add two numbers\n    total = a + b\n\n    return total\n"
    kept = teacher.compress_one(code, unit="line", protect_patterns=[r"^\s*def ", r"^\s*return\b"])
    assert kept.startswith("def add(a, b):") and "return total" in kept


def test_seed_amplification_dedups_and_stays_in_train(server: OpenAIServer) -> None:
    seeds = [
        {
            "id": "s1",
            "domain": "memory",
            "source": "user",
            "split": "train",
            "text": "- The user prefers tea over coffee in the morning.",
        },
        {
            "id": "s2",
            "domain": "memory",
            "source": "user",
            "split": "train",
            "text": "- Their project deadline is the first of May.",
        },
    ]
    server.state.replies = [
        "- The user keeps a cat named Miso and walks every evening.",
        "- The user prefers tea over coffee in the morning.",  # a copy of a seed
        "- The user keeps a cat named Miso and walks every evening!",  # a near copy
        "   ",  # nothing
    ]
    out = amplify(
        LLMSession(LLMSettings(base_delay_s=0.01, concurrency={"openai": 1})),
        seeds,
        factor=2,
        model="openai/teacher",
        temperature=0.8,
        max_tokens=64,
    )
    assert out.requested == 4 and out.duplicates == 2 and out.empty == 1
    assert [r["text"] for r in out.rows] == ["- The user keeps a cat named Miso and walks every evening."]
    assert (
        out.rows[0]["split"] == "train"
        and out.rows[0]["domain"] == "memory"
        and out.rows[0]["source"] == "augment:s1"
    )

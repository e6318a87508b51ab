"""Lossless compaction: JSON back to equal data, logs and listings back byte for byte."""

from __future__ import annotations

import json
import random

import pytest

from compress.algorithms.structured import compact, decode, restore
from tests.algorithms.structured.samples import GREP, JSON_ARRAY, JSONL, LISTINGS, LOGS, PACKAGES, count


def _round_trip_json(data: object, text: str | None = None) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=True) if text is None else text
    out = compact(text, "json")
    assert decode(json.loads(out)) == data
    assert json.loads(restore(out, "json")) == data
    return out


def test_an_array_of_like_objects_becomes_a_table_one_row_a_line() -> None:
    out = _round_trip_json(PACKAGES, JSON_ARRAY)
    lines = out.split("\n")
    assert lines[0] == '{"@cols":["name","version"],"@rows":['
    assert lines[1] == '["package-0","0.0.0"],' and lines[-1] == "]}"
    assert len(lines) == len(PACKAGES) + 2
    # the keys once, not once a row: shorter than the minified JSON by a quarter at least
    assert count(out) < 0.75 * count(json.dumps(PACKAGES, separators=(",", ":")))


def test_nested_arrays_unicode_and_odd_rows_round_trip() -> None:
    data = {
        "name": "Zoë's café ☕",
        "runs": [
            {"id": 1, "tags": ["a", "b"], "steps": [{"n": i, "ok": i % 2 == 0} for i in range(4)]},
            {"id": 2, "tags": [], "steps": []},
            {"id": 3, "tags": ["ü"], "steps": [{"n": 0, "ok": None}] * 3},
            {"id": 4, "extra": 1.5},  # other keys: stays an object among the rows
            {"tags": ["x"], "id": 5, "steps": []},  # the same keys in another order: an object too
        ],
        "matrix": [[1, 2], [3, 4], [5, 6]],
        "empty": [{}, {}, {}],
        "numbers": [1, 1.0, True, None, 1e300, -0.0],
    }
    out = _round_trip_json(data)
    assert "Zoë's café ☕" in out  # unicode as it is, not \\u escapes
    assert '"@cols":["id","tags","steps"]' in out
    restored = json.loads(restore(out, "json"))
    assert json.dumps(restored) == json.dumps(data)  # key order and types too (1, 1.0, true differ)


def test_data_that_uses_the_reserved_keys_falls_back_and_still_decodes() -> None:
    table_shaped = {"@cols": ["a"], "@rows": [[1], [2]]}
    for data in (
        table_shaped,
        [table_shaped, table_shaped, table_shaped],
        {"@raw": [1, 2]},
        {"@raw": table_shaped},
        [{"@cols": i, "@rows": [i]} for i in range(4)],  # rows whose keys are the reserved ones
    ):
        out = _round_trip_json(data)
        assert json.loads(restore(out, "json")) == data
    # a table-shaped object in the data: the whole document comes back wrapped, decoded as it was
    out = compact(json.dumps([table_shaped, {"x": 1}]), "json")
    assert out.startswith('{"@raw":')


def test_json_lines_compact_to_a_table_and_restore_as_lines() -> None:
    out = compact(JSONL, "json")
    assert '"@lines":true' in out and out.startswith('{"@cols":["ts","level","msg"]')
    restored = restore(out, "json").split("\n")
    assert [json.loads(x) for x in restored] == [json.loads(x) for x in JSONL.split("\n")]
    mixed = '{"a": 1}\n{"b": 2}\n\n{"a": 3, "c": [1]}\n'
    out = compact(mixed, "json")
    assert out == '{"a":1}\n{"b":2}\n{"a":3,"c":[1]}'
    assert [json.loads(x) for x in restore(out, "json").split("\n")] == [
        {"a": 1},
        {"b": 2},
        {"a": 3, "c": [1]},
    ]


def test_text_that_is_not_json_cannot_be_compacted_as_json() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        compact(JSON_ARRAY[:-40], "json")
    with pytest.raises(ValueError, match="shape"):
        compact("x", "yaml")


def test_runs_of_identical_log_lines_are_counted_and_restored_exactly() -> None:
    log = "start\n" + "tick\n" * 12 + "stop\n\n\n"
    out = compact(log, "log")
    assert out == "start\ntick  [×12]\nstop\n  [×3]"
    assert restore(out, "log") == log
    # a line that already ends like a count is marked as one line, not read as a run
    tricky = "a  [×3]\na  [×3]\nb  [×7]\n  [×2]\n"
    assert restore(compact(tricky, "log"), "log") == tricky
    assert compact("b  [×7]", "log") == "b  [×7]  [×1]"


def test_paths_group_by_directory_and_grep_hits_by_file() -> None:
    find = LISTINGS["find"]
    out = compact(find, "listing")
    assert "./compress/: __init__.py cli.py run.py" in out.split("\n")
    assert "./compress/library/: __init__.py load.py" in out.split("\n")
    assert restore(out, "listing") == find
    out = compact(GREP, "listing")
    assert out.split("\n")[:2] == [
        "compress/library/load.py:12:def load_compressor(",
        "  40:    return load_compressor(spec)",
    ]
    assert restore(out, "listing") == GREP


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_every_sample_listing_round_trips(name: str) -> None:
    assert restore(compact(LISTINGS[name], "listing"), "listing") == LISTINGS[name]


@pytest.mark.parametrize("name", sorted(LOGS))
def test_every_sample_log_round_trips(name: str) -> None:
    assert restore(compact(LOGS[name], "log"), "log") == LOGS[name]


# lines that read like the compact forms, or escape them, or sit at their edges
TRICKY = [
    "a/b.py",
    "a/c.py",
    "a/",
    "a/: b c",
    "\\a/: b",
    "\\",
    "",
    "  12:not a hit",
    "  7-context",
    "x.py:3:hit",
    "x.py:4:hit two",
    "x.py:5-ctx",
    "y.py:1:",
    "dir with space/f.py",
    "d/f g.py",
    "line  [×2]",
    "plain text",
    "./: a",
    "a/b.py\r",
    "ü/ö.py",
]


def test_random_mixes_of_tricky_lines_round_trip_exactly() -> None:
    rng = random.Random(0)
    for _ in range(400):
        lines = [rng.choice(TRICKY) for _ in range(rng.randint(1, 12))]
        text = "\n".join(lines) + rng.choice(["", "\n"])
        for shape in ("log", "listing"):
            assert restore(compact(text, shape), shape) == text, (shape, text)

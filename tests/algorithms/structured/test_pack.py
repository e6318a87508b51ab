"""`pack`: lossless when it fits, else errors and the query's lines kept within the budget exactly,
one marker for every run that went, its exact text in the store."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from compress.algorithms.structured import ExpandStore, Packed, compact, decode, pack, restore
from compress.algorithms.structured import store as store_module
from tests.algorithms.structured.samples import (
    COMPILER,
    JSON_ARRAY,
    PACKAGES,
    PYTEST,
    TRACEBACK,
    count,
    heartbeat_log,
)

MARKER = re.compile(r"\[… [^\n]*? · id ([0-9a-f]+)\]")
ERROR_LINE = "2026-12-06 10:03:12 ERROR worker-2 disk full on /var/data"
QUESTION = "Which worker reported an error?"


def expand_lines(packed: Packed, store: ExpandStore) -> str:
    """The original of a packed log or listing: its kept runs restored, each marker replaced by the
    text the store keeps for it. Checks that no two markers are neighbours (one marker a run)."""
    parts: list[str] = []
    block: list[str] = []
    previous_marker = False
    for line in packed.text.split("\n"):
        m = MARKER.fullmatch(line)
        if m is None:
            block.append(line)
            previous_marker = False
            continue
        assert not previous_marker, f"two markers for one run of left-out lines:\n{packed.text}"
        previous_marker = True
        if block:
            parts.append(restore("\n".join(block), packed.shape))
            block = []
        parts.append(store.get(m.group(1)))
    if block:
        parts.append(restore("\n".join(block), packed.shape))
    return "\n".join(parts)


def markers(text: str) -> list[str]:
    return [m.group(1) for m in MARKER.finditer(text)]


@pytest.mark.parametrize("budget", [60, 150, 400, 1000, 2500])
def test_the_log_keeps_the_error_within_the_budget_and_every_run_has_one_marker(budget: int) -> None:
    log = heartbeat_log()
    store = ExpandStore()
    packed = pack(log, "log", budget, count, QUESTION, store)
    assert packed is not None and not packed.lossless and packed.shape == "log"
    assert count(packed.text) <= budget
    assert ERROR_LINE in packed.text.split("\n")
    assert markers(packed.text) == packed.ids and packed.ids
    # every left-out run is behind exactly one marker, and the store gives it back exactly
    assert expand_lines(packed, store) == log
    # markers say what the lines were like; at the tightest budget only how many went
    like = r' like "INFO worker-# heartbeat ok seq=#"' if budget > 60 else ""
    assert re.search(rf"\[… \d+ lines{like} · id [0-9a-f]{{8}}\]", packed.text)


def test_a_larger_budget_keeps_more_and_the_frame_shows() -> None:
    log = heartbeat_log()
    small, large = (pack(log, "log", b, count, QUESTION) for b in (200, 1500))
    assert small is not None and large is not None
    assert count(small.text) < count(large.text) <= 1500
    first, last = log.split("\n")[0], log.split("\n")[-1]
    assert first in large.text and last in large.text


def test_lossless_when_it_fits_and_without_a_budget() -> None:
    log = "boot\n" + "2026-12-06 10:00:00 INFO tick\n" * 50 + "done"
    packed = pack(log, "log", 40, count, None)
    assert packed == Packed("boot\n2026-12-06 10:00:00 INFO tick  [×50]\ndone", "log", True, [])
    unbounded = pack(heartbeat_log(), "log", None, count)
    assert unbounded is not None and unbounded.lossless and unbounded.text == heartbeat_log()


def _padded(core: str, n: int = 200) -> str:
    """`core` in the middle of `n` ordinary log lines."""
    pad = [
        f"2026-12-06 09:{i // 60:02d}:{i % 60:02d} INFO request {i} served in {i % 17} ms" for i in range(n)
    ]
    return "\n".join(pad[: n // 2] + core.strip("\n").split("\n") + pad[n // 2 :])


def test_tracebacks_are_kept_whole_down_to_the_exception_line() -> None:
    text = _padded(TRACEBACK)
    packed = pack(text, "log", 120, count, "why did it stop?")
    assert packed is not None and count(packed.text) <= 120
    block = TRACEBACK.split("\n")[2:8]
    assert block[0].startswith("Traceback") and block[-1].startswith("ValueError")
    assert "\n".join(block) in packed.text


def test_failing_tests_and_compiler_errors_are_kept() -> None:
    passing = "\n".join(f"tests/test_b.py::test_case_{i} PASSED" for i in range(300))
    text = PYTEST.replace("tests/test_a.py ..F.s", passing + "\ntests/test_a.py ..F.s")
    packed = pack(text, "log", 200, count, None)
    assert packed is not None and count(packed.text) <= 200
    for line in (
        "E       assert 3 == 4",
        "FAILED tests/test_a.py::test_total - assert 3 == 4",
        ">       assert total([1, 2]) == 4",
    ):
        assert line in packed.text.split("\n"), line
    assert "1 failed, 3 passed, 1 skipped" in packed.text
    text = _padded(COMPILER + "\nbuild finished with exit code 2")
    packed = pack(text, "log", 150, count, None)
    assert packed is not None
    for line in (
        "src/main.c:12:5: error: use of undeclared identifier 'x'",
        "make: *** [Makefile:4: main] Error 1",
        "build finished with exit code 2",
    ):
        assert line in packed.text.split("\n"), line


def test_when_the_errors_alone_do_not_fit_the_best_of_them_stay() -> None:
    lines = [f"2026-12-06 10:00:{i % 60:02d} ERROR job {i} failed: timeout after {i} s" for i in range(200)]
    lines[137] = "2026-12-06 10:02:17 ERROR job 137 failed: quota exceeded for bucket photos"
    text = "\n".join(lines)
    packed = pack(text, "log", 80, count, "which bucket hit its quota?")
    assert packed is not None and count(packed.text) <= 80
    assert lines[137] in packed.text.split("\n")
    # a budget too small for one line and a marker: nothing, but no error
    tiny = pack(text, "log", 3, count, None)
    assert tiny is not None and count(tiny.text) <= 3


def test_the_query_picks_lines_by_its_rarer_words() -> None:
    lines = [f"2026-12-06 10:00:{i % 60:02d} INFO worker-{i % 3} cache hit key={i}" for i in range(300)]
    lines[40] = "2026-12-06 10:00:40 INFO worker-1 cache miss key=40 evicted by the janitor"
    packed = pack("\n".join(lines), "log", 150, count, "Which key did the janitor evict from the cache?")
    assert packed is not None and lines[40] in packed.text.split("\n")


def test_listings_mark_runs_by_directory_and_keep_what_the_query_names() -> None:
    paths = [f"./lib/python3.11/site-packages/pkg{i}/module_{j}.py" for i in range(12) for j in range(30)]
    paths[200] = "./lib/python3.11/site-packages/pkg6/tokenizer_config.json"
    text = "\n".join(paths)
    store = ExpandStore()
    packed = pack(text, "listing", 200, count, "where is the tokenizer config?", store)
    assert packed is not None and count(packed.text) <= 200
    assert "tokenizer_config.json" in packed.text
    assert re.search(
        r"\[… \d+ more entries in \./lib/python3\.11/site-packages/pkg\d+/ · id [0-9a-f]{8}\]", packed.text
    )
    assert expand_lines(packed, store) == text
    hits = "\n".join(f"src/mod{i // 20}.py:{i}:    call(x{i})" for i in range(400))
    packed = pack(hits, "listing", 150, count, None, store)
    assert packed is not None and re.search(r"\[… \d+ more hits in src/mod\d+\.py · id", packed.text)
    assert expand_lines(packed, store) == hits


class _Pairs(list[tuple[str, Any]]):
    """An object's members in order, duplicates kept (a lossy object may hold several `…` members)."""


def _expand_json(value: Any, store: ExpandStore, top: bool = False) -> Any:
    """The data a lossy JSON stands for: every marker replaced by the data the store keeps for it."""
    if top and isinstance(value, str) and (m := MARKER.fullmatch(value)):  # the whole document
        return decode(json.loads(store.get(m.group(1))))
    if isinstance(value, str):
        m = re.fullmatch(r"(.*)…\[… \d+ more chars · id ([0-9a-f]+)\]", value, re.DOTALL)
        return m.group(1) + store.get(m.group(2)) if m else value
    if isinstance(value, list) and not isinstance(value, _Pairs):
        out: list[Any] = []
        for v in value:
            m = MARKER.fullmatch(v) if isinstance(v, str) else None
            if m:
                out.extend(decode(json.loads(store.get(m.group(1)))))
            else:
                out.append(_expand_json(v, store))
        return out
    if isinstance(value, _Pairs):
        pairs = dict(value) if len({k for k, _ in value}) == len(value) else None
        if pairs is not None and set(pairs) == {"@cols", "@rows"}:
            cols = pairs["@cols"]
            rows: list[Any] = []
            for row in pairs["@rows"]:
                m = MARKER.fullmatch(row) if isinstance(row, str) else None
                if m:
                    rows.extend(decode(json.loads(store.get(m.group(1)))))
                elif isinstance(row, list):
                    rows.append(dict(zip(cols, (_expand_json(v, store) for v in row), strict=True)))
                else:
                    rows.append(_expand_json(row, store))
            return rows
        obj: dict[str, Any] = {}
        for k, v in value:
            m = MARKER.fullmatch(v) if k == "…" and isinstance(v, str) else None
            if m:
                obj.update(decode(json.loads(store.get(m.group(1)))))
            else:
                obj[k] = _expand_json(v, store)
        return obj
    return value


def _parse_lossy(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_Pairs)


def test_json_rows_go_behind_markers_and_the_query_row_stays() -> None:
    store = ExpandStore()
    packed = pack(JSON_ARRAY, "json", 120, count, "which version of package-42 is installed?", store)
    assert packed is not None and not packed.lossless and count(packed.text) <= 120
    assert '["package-42","0.9.42"]' in packed.text
    assert '["package-0","0.0.0"]' in packed.text  # the head of the array: its structure shows
    assert re.search(r'"\[… \d+ more rows like the above · id [0-9a-f]{8}\]"', packed.text)
    assert markers(packed.text) == packed.ids
    assert json.dumps(_expand_json(_parse_lossy(packed.text), store, top=True)) == json.dumps(PACKAGES)


def test_wide_objects_long_strings_and_nested_arrays_expand_back_exactly() -> None:
    data = {
        "version": "1",
        "env": {f"VAR_{i}": f"value {i}" for i in range(40)},
        "installed": [
            {
                "metadata": {
                    "name": f"pkg{i}",
                    "summary": ("A long summary. " * 30) if i % 5 == 0 else "short",
                },
                "requires": [f"dep{j}>=1.{j}" for j in range(i % 9)],
                "installer": "pip",
            }
            for i in range(50)
        ],
        "log": "\n".join(f"step {i} ok" for i in range(200)),
    }
    store = ExpandStore()
    for budget in (80, 300, 900):
        packed = pack(json.dumps(data, indent=1), "json", budget, count, "what does pkg35 require?", store)
        assert packed is not None and count(packed.text) <= budget, budget
        assert json.dumps(_expand_json(_parse_lossy(packed.text), store, top=True)) == json.dumps(data), (
            budget
        )
        assert markers(packed.text) == packed.ids
    assert packed is not None and '"pkg35"' in packed.text
    assert re.search(r'"…":"\[… \d+ more keys · id [0-9a-f]{8}\]"', packed.text)
    assert re.search(r'…\[… \d+ more chars · id [0-9a-f]{8}\]"', packed.text)


def test_errors_in_json_are_kept() -> None:
    rows = [{"test": f"test_{i}", "outcome": "passed", "duration": i / 100} for i in range(200)]
    rows[123] = {"test": "test_123", "outcome": "failed", "duration": 1.5}
    packed = pack(json.dumps(rows), "json", 100, count, None)
    assert packed is not None and '["test_123","failed",1.5]' in packed.text


def test_bad_or_truncated_json_is_not_packed() -> None:
    for text in (JSON_ARRAY[: len(JSON_ARRAY) // 2], "{'single': 'quotes'}", "[1, 2,", "not json at all"):
        assert pack(text, "json", 10, count, None) is None
    assert pack("one line", "log", 10, count, None) is None  # nothing to choose among


def test_the_store_is_a_bounded_lru_by_entries_and_characters() -> None:
    store = ExpandStore(max_entries=3, max_chars=100)
    ids = [store.put(f"text {i}") for i in range(4)]
    assert len(store) == 3 and len(set(ids)) == 4 and all(len(i) == 8 for i in ids)
    with pytest.raises(KeyError):
        store.get(ids[0])
    assert store.get(ids[1]) == "text 1"  # now the most recent: text 2 goes next
    store.put("x" * 95)
    assert len(store) == 1 and store.get(store.put("x" * 95)) == "x" * 95
    assert store.put("text 9") == store.put("text 9")  # the same text, the same id, stored once


def test_a_hash_prefix_collision_gets_a_longer_id_never_another_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = store_module.text_id
    monkeypatch.setattr(store_module, "text_id", lambda t, d=8: "0" * d if d == 8 else real(t, d))
    store = ExpandStore()
    a, b = store.put("first"), store.put("second")
    assert a == "00000000" and len(b) == 12 and store.get(a) == "first" and store.get(b) == "second"


def test_the_store_is_safe_to_share_between_threads() -> None:
    store = ExpandStore(max_entries=10_000)
    errors: list[str] = []

    def work(t: int) -> None:
        for i in range(300):
            key = store.put(f"{t}:{i}")
            if store.get(key) != f"{t}:{i}":
                errors.append(key)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(store) == 2400


def test_compact_forms_are_what_pack_returns_when_they_fit() -> None:
    packed = pack(JSON_ARRAY, "json", 10_000, count, None)
    assert packed is not None and packed.lossless and packed.text == compact(JSON_ARRAY, "json")


def test_markers_of_lines_with_brackets_and_quotes_still_expand_exactly() -> None:
    text = "\n".join(f'2026-12-06 10:00:{i % 60:02d} DEBUG cache["k{i}"] = [{i}]' for i in range(200))
    store = ExpandStore()
    packed = pack(text, "log", 100, count, None, store)
    assert packed is not None and count(packed.text) <= 100
    assert "[… 1" in packed.text and 'like "DEBUG cache["k#"] = [#]" · id ' in packed.text
    assert expand_lines(packed, store) == text

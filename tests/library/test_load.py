"""The library: `load_compressor` on the baselines, on a trained smoke run and on its package (the
package gives the run dir's output), budgets, passthrough, routing and clear errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compress import load_compressor
from compress.algorithms.compressors.base import tokens_at
from compress.algorithms.compressors.baselines import BASELINES
from compress.algorithms.structured import TOOL_SHAPES, decode, restore, route
from compress.export.__main__ import main as export_main
from compress.export.package import MANIFEST, read_manifest, write_package
from compress.infra.errors import CompressError
from compress.library.load import CompressResult, LoadedCompressor
from tests.conftest import CACHE, ROOT

PROSE = (
    "The observatory on the northern ridge was finished in 1931 after nine years of work. Its main "
    "telescope, a 72-inch reflector ground by hand in Pittsburgh, was the largest in the country for a "
    "decade. Astronomers there measured the distances to forty nearby galaxies and catalogued more than "
    "twelve thousand variable stars before the dome was closed to research in 1989."
)
CODE = (
    "def mean(values):\n"
    '    """The arithmetic mean of a non-empty list."""\n'
    "    total = sum(values)\n"
    "    count = len(values)\n"
    "    if count == 0:\n"
    "        raise ValueError('mean of an empty list')\n"
    "    return total / count\n"
)
CHAT = (
    "User: can you move my dentist appointment to Thursday?\n"
    "Assistant: Sure, I moved it to Thursday at 3pm.\n"
    "User: and remind me the day before, I always forget\n"
    "Assistant: Done, a reminder is set for Wednesday at 6pm.\n"
)


@pytest.fixture(scope="module")
def truncate() -> LoadedCompressor:
    return load_compressor("truncate", cache_dir=CACHE)


def test_import_compress_stays_light() -> None:
    """`import compress` loads no model library; `from compress import load_compressor` works."""
    code = "import sys, compress; assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
    code += "from compress import load_compressor, CompressResult; print(load_compressor.__module__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "compress.library.load"


def test_truncate_keeps_the_head_within_the_budget(truncate: LoadedCompressor) -> None:
    r = truncate.compress(PROSE, rate=0.5)
    assert isinstance(r, CompressResult) and r.status == "compressed"
    assert r.tokens_after <= round(0.5 * r.tokens_before) and r.tokens_after > 0
    assert PROSE.startswith(r.compressed)
    assert "gemma3-270m" in r.tokenizer and r.domain == "nl" and r.seconds >= 0
    assert truncate.kind == "baseline" and truncate.name == "truncate"
    by_count = truncate.compress(PROSE, target_tokens=10)
    assert by_count.tokens_after <= 10 and by_count.tokens_before == r.tokens_before


def test_passthrough_cases(truncate: LoadedCompressor) -> None:
    """Empty text, text within the budget, and a baseline without a budget: the text unchanged."""
    cases: list[tuple[str, dict[str, Any]]] = [
        ("", {"rate": 0.5}),
        ("   \n", {"rate": 0.5}),
        (PROSE, {"target_tokens": 10_000}),
        (PROSE, {}),
    ]
    for text, kwargs in cases:
        r = truncate.compress(text, **kwargs)
        assert r.status == "passthrough" and r.compressed == text
        assert r.tokens_after == r.tokens_before


def test_bad_arguments_say_what_to_do(truncate: LoadedCompressor) -> None:
    with pytest.raises(CompressError, match="not several"):
        truncate.compress(PROSE, rate=0.5, target_tokens=10)
    for rate in (0, 1.5, -0.1):
        with pytest.raises(CompressError, match=r"\(0, 1\]"):
            truncate.compress(PROSE, rate=rate)
    with pytest.raises(CompressError, match="at least 1"):
        truncate.compress(PROSE, target_tokens=0)
    with pytest.raises(CompressError, match="choose from"):
        truncate.compress(PROSE, rate=0.5, domain="poetry")
    with pytest.raises(CompressError, match="not one string"):
        truncate.compress_many(PROSE, rate=0.5)
    with pytest.raises(CompressError, match="truncate"):
        load_compressor("no-such-compressor")


def test_compress_many_routes_each_text(truncate: LoadedCompressor) -> None:
    results = truncate.compress_many([PROSE, CODE, CHAT], rate=0.5)
    assert [r.domain for r in results] == ["nl", "code", "memory"]
    assert all(r.status == "compressed" for r in results)
    # a caller's domain wins over the rules
    assert truncate.compress(CODE, rate=0.5, domain="nl").domain == "nl"


def test_selfinfo_uses_each_domains_unit_and_keeps_forced_strings() -> None:
    with load_compressor("selfinfo", cache_dir=CACHE) as c:
        code = c.compress(CODE, rate=0.5)
        # code is routed to domain code, whose unit is the line: every kept line is a whole line
        assert code.domain == "code" and code.status == "compressed"
        assert set(code.compressed.splitlines()) <= {line.strip() for line in CODE.splitlines()} | set(
            CODE.splitlines()
        )
        prose = c.compress(PROSE, rate=0.3)
        dropped = [w for w in dict.fromkeys(PROSE.replace(".", " ").replace(",", " ").split()) if len(w) > 4]
        dropped = [w for w in dropped if w not in prose.compressed][:2]
        assert len(dropped) == 2, prose.compressed
        forced = c.compress(PROSE, rate=0.3, force_tokens=dropped)
        assert all(w in forced.compressed for w in dropped), (dropped, forced.compressed)


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_trained_run_and_its_package_give_the_same_output(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with load_compressor(smoke_run, engine="llama_cpp", cache_dir=CACHE) as run_c:
        assert run_c.kind == "generative" and run_c.name == smoke_run.name
        from_run = run_c.compress_many([PROSE, CODE], target_tokens=24)
    pkg = tmp_path / "pkg"
    assert export_main([str(smoke_run), "--package", str(pkg), "--gguf", "--version", "2.1.0"]) == 0
    assert "W&B artifact skipped" in capsys.readouterr().err  # the smoke run logged nothing online
    assert (pkg / "adapter" / "adapter.gguf").is_file()
    # the package stands alone: moved away from the run, it loads and answers the same
    moved = tmp_path / "elsewhere" / "nl-compressor"
    shutil.copytree(pkg, moved)
    shutil.rmtree(pkg)
    with load_compressor(moved, engine="llama_cpp", cache_dir=CACHE) as pkg_c:
        assert pkg_c.kind == "generative" and pkg_c.manifest["version"] == "2.1.0"
        from_pkg = pkg_c.compress_many([PROSE, CODE], target_tokens=24)
    for a, b in zip(from_run, from_pkg, strict=True):
        assert a.model_dump(exclude={"seconds"}) == b.model_dump(exclude={"seconds"})
        assert a.tokens_before > 0 and a.domain in {"nl", "code"}
    assert [r.domain for r in from_run] == ["nl", "code"]
    # a trained compressor routes a log the way every baseline does: its error line survives
    log = heartbeat()
    with load_compressor(moved, engine="llama_cpp", cache_dir=CACHE) as pkg_c:
        for rate in (0.25, 0.1):
            r = pkg_c.compress(log, rate=rate, query="Which worker reported an error?")
            assert r.domain == "log" and ERROR_LINE in r.compressed.split("\n"), (rate, r.compressed)
            assert _rebuilt(r.compressed, pkg_c.expand) == log


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_package_manifest_records_the_run(smoke_run: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    manifest = write_package(smoke_run, pkg, CACHE, version="0.3.0")
    raw = json.loads((pkg / MANIFEST).read_text())
    assert raw["format_version"] == 1 and raw["version"] == "0.3.0" and raw["kind"] == "generative"
    assert raw["base_model"]["name"] == "gemma3-270m"
    files = {w["path"] for w in raw["weights"]}
    assert {
        "adapter/adapter_model.safetensors",
        "adapter/adapter_config.json",
        "adapter/compressor.json",
    } <= files
    done = json.loads((smoke_run / "train" / "_DONE.json").read_text())
    assert raw["fingerprints"]["train"] == done["fingerprint"]
    summary = json.loads((smoke_run / "evaluate" / "summary.json").read_text())
    trained = next(m for m in summary["methods"] if m["method"] == "trained")
    assert raw["metrics"]["token_reduction"] == trained["token_reduction"]
    assert raw["metrics"]["equivalence_min"] == trained["equivalence_min"]
    assert raw["config"]["name"] == "smoke" and raw["tokenizer"]["model"] == "local/gemma3-270m"
    assert set(raw["domains"]) >= {"nl", "code", "memory"} and raw["domains"]["code"]["unit"] == "line"
    assert (pkg / "summary.json").is_file() and manifest.created
    # a non-empty dir is kept unless --force
    with pytest.raises(CompressError, match="--force"):
        write_package(smoke_run, pkg, CACHE)
    assert export_main([str(smoke_run), "--package", str(pkg)]) == 2
    assert write_package(smoke_run, pkg, CACHE, version="0.4.0", force=True).version == "0.4.0"
    # a damaged weight file is found before anything loads
    weights = pkg / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(CompressError, match="does not match its manifest"):
        read_manifest(pkg)
    # a package from a newer format is refused with the fix
    raw["format_version"] = 99
    (pkg / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(CompressError, match="Upgrade compress"):
        load_compressor(pkg, cache_dir=CACHE)


RETRIEVED = [
    "The zlib module compresses data with DEFLATE. Its default compression level is 6.",
    "The heapq module keeps a list as a binary heap. The smallest item is at index 0.",
    "The sched module runs events at given times. Events with equal times run by priority.",
]


def test_joint_compression_shares_one_budget_by_relevance() -> None:
    with load_compressor("bm25", cache_dir=CACHE) as c:
        alone = c.compress_many(RETRIEVED, rate=0.4, query="Where is the smallest item of a heap?")
        joint = c.compress_many(
            RETRIEVED, rate=0.4, query="Where is the smallest item of a heap?", joint=True
        )
        before = sum(r.tokens_before for r in joint)
        assert sum(r.tokens_after for r in joint) <= round(0.4 * before) + 2  # one budget for all
        # each text alone keeps its own 40 %; together the budget goes to the text the query asks about
        assert all(r.status == "compressed" for r in alone)
        assert "The smallest item is at index 0." in joint[1].compressed
        assert joint[1].tokens_after > alone[1].tokens_after
        assert {joint[0].status, joint[2].status} <= {"dropped", "compressed"}
        assert any(r.status == "dropped" and r.compressed == "" for r in joint)
        # the whole list fits: every text comes back as it is
        fits = c.compress_many(RETRIEVED, target_tokens=10_000, query="heap", joint=True)
        assert [r.compressed for r in fits] == RETRIEVED and {r.status for r in fits} == {"passthrough"}


def test_joint_and_threshold_need_a_compressor_that_can(truncate: LoadedCompressor) -> None:
    with pytest.raises(CompressError, match="joint=True: truncate"):
        truncate.compress_many(RETRIEVED, rate=0.5, joint=True)
    with pytest.raises(CompressError, match=r"threshold=0\.5: truncate"):
        truncate.compress(PROSE, threshold=0.5)
    with pytest.raises(CompressError, match="not several"):
        truncate.compress(PROSE, rate=0.5, threshold=0.5)


# tool outputs: routed by shape before any compressor, the same for every compressor loaded

ERROR_LINE = "2026-12-06 10:03:12 ERROR worker-2 disk full on /var/data"
MARKER = re.compile(r"\[… [^\n]*? · id ([0-9a-f]+)\]")


@pytest.fixture(scope="module")
def heartbeat_log() -> str:
    """The log of `heartbeat`."""
    return heartbeat()


def heartbeat() -> str:
    """300 lines: heartbeats of 4 workers (timestamps and seq numbers vary), one error in the middle."""
    lines = []
    for i in range(299):
        s = 1 + i
        lines.append(
            f"2026-12-06 10:{s // 60:02d}:{s % 60:02d} INFO worker-{i % 4} heartbeat ok seq={17 + i}"
        )
    lines.insert(150, ERROR_LINE)
    return "\n".join(lines)


def _rebuilt(compressed: str, expand: Any) -> str:
    """The log behind a packed one: kept lines restored, each marker replaced by `expand(id)`; one
    marker for each run of left-out lines (never two in a row)."""
    parts: list[str] = []
    block: list[str] = []
    last_was_marker = False
    for line in compressed.split("\n"):
        m = MARKER.fullmatch(line)
        if m is None:
            block.append(line)
            last_was_marker = False
            continue
        assert not last_was_marker, compressed
        last_was_marker = True
        if block:
            parts.append(restore("\n".join(block), "log"))
            block = []
        parts.append(expand(m.group(1)))
    if block:
        parts.append(restore("\n".join(block), "log"))
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_keeps_the_error_of_a_log_and_expands_what_went(name: str, heartbeat_log: str) -> None:
    """Routing is the library's: the log is packed by its shape whatever the compressor, so the error
    line survives at 4x and 10x and every marker gives back its exact lines."""
    assert route(heartbeat_log) == "log"
    with load_compressor(name, cache_dir=CACHE) as c:
        for rate in (0.25, 0.1):
            r = c.compress(heartbeat_log, rate=rate, query="Which worker reported an error?")
            assert r.domain == "log" and r.status == "compressed", (name, rate)
            assert ERROR_LINE in r.compressed.split("\n"), (name, rate, r.compressed)
            assert 0 < r.tokens_after <= tokens_at(rate, r.tokens_before)
            assert r.ids and [m.group(1) for m in MARKER.finditer(r.compressed)] == r.ids
            assert _rebuilt(r.compressed, c.expand) == heartbeat_log
        if name == "selfinfo":  # the log never reached the compressor: its model was never loaded
            assert getattr(c._compressor, "_teacher", "") is None


def test_expand_names_an_unknown_id_and_the_cache_bound(truncate: LoadedCompressor) -> None:
    with pytest.raises(CompressError, match=r"id 'feedbeef': unknown.*most recent 2048"):
        truncate.expand("feedbeef")


def test_a_json_array_compacts_losslessly_within_the_budget(truncate: LoadedCompressor) -> None:
    """`pip list --format=json`: the table form keeps every package and version, no marker."""
    packages = [{"name": f"package-{i}", "version": f"{i % 5}.{i % 13}.{i}"} for i in range(40)]
    text = json.dumps(packages)  # pip writes `[{"name": "...", "version": "..."}, ...]`
    r = truncate.compress(text, rate=0.75)
    assert r.domain == "json" and r.status == "compressed" and r.ids == []
    assert r.compressed.startswith('{"@cols":["name","version"],"@rows":[')
    assert decode(json.loads(r.compressed)) == packages
    assert r.tokens_after <= tokens_at(0.75, r.tokens_before)
    # within the budget as it is: unchanged
    assert truncate.compress(text, rate=1.0).status == "passthrough"


def test_truncated_json_is_compressed_as_text_without_error(truncate: LoadedCompressor) -> None:
    text = json.dumps([{"name": f"package-{i}", "version": "1.0"} for i in range(40)])[:-25]
    for domain in ("json", None):
        r = truncate.compress(text, rate=0.5, domain=domain)
        assert r.domain not in TOOL_SHAPES and r.status == "compressed" and r.ids == []
        assert text.startswith(r.compressed)


def test_a_text_domain_given_overrides_routing(truncate: LoadedCompressor, heartbeat_log: str) -> None:
    r = truncate.compress(heartbeat_log, rate=0.25, domain="nl", query="Which worker reported an error?")
    assert r.domain == "nl" and r.ids == [] and heartbeat_log.startswith(r.compressed)
    assert ERROR_LINE not in r.compressed  # the head of the log, as truncation gives it
    assert set(TOOL_SHAPES) <= set(truncate.domains)
    mixed = truncate.compress_many(
        [PROSE, heartbeat_log, json.dumps({"rows": [{"a": i} for i in range(50)]})], rate=0.5
    )
    assert [r.domain for r in mixed] == ["nl", "log", "json"]
    with pytest.raises(CompressError, match="joint"):
        load_compressor("bm25", cache_dir=CACHE).compress_many(
            [heartbeat_log], rate=0.5, domain="log", joint=True
        )


def test_threshold_mode_compacts_a_tool_output_losslessly_only() -> None:
    log = "boot\n" + "2026-12-06 10:00:00 INFO tick\n" * 40 + "2026-12-06 10:00:41 ERROR disk full\ndone"
    with load_compressor("hybrid", cache_dir=CACHE) as c:
        r = c.compress(log, threshold=0.5)
        assert r.domain == "log" and r.status == "compressed" and r.ids == []
        assert "INFO tick  [×40]" in r.compressed and restore(r.compressed, "log") == log

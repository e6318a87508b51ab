"""Tool outputs routed by shape: real outputs of this machine, compacted losslessly, then packed to
truncation's budget with a question each; what survives (errors, the lines the question needs)
against truncation at the same budget, and how fast.

    .venv/bin/python experiments/tool_outputs/bench.py

Runs pytest (a few test files and one written to fail), pip (install dry runs, one of a package that
does not exist, check, list -v, list --format=json, inspect), ls -la, grep -rn and git log --stat, all
offline; keeps each output under outputs/ (ignored by git) with what pack and truncation made of it;
writes results/<output>.json, results/summary.json and README.md (the table). About a minute on 2 cores.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from compress.algorithms.compressors.base import tokens_at
from compress.algorithms.structured import ExpandStore, compact, pack, restore, route
from compress.algorithms.structured.jsontree import restore_value, same
from compress.algorithms.structured.shapes import parse_json
from compress.algorithms.structured.signals import ERROR_LINE
from compress.export.package import DEFAULT_TARGET
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import default_cache

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT, RESULTS = HERE / "outputs", HERE / "results"
PY = str(ROOT / ".venv" / "bin" / "python")
RATES = (0.25, 0.1)
MARKER = re.compile(r"\[… [^\n]*? · id ([0-9a-f]+)\]")

FAILING_TEST = '''"""Written by experiments/tool_outputs/bench.py: one test fails, deep in a call, after logging."""
import logging

log = logging.getLogger("svc")


def parse_port(text):
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return port


def load(cfg):
    return parse_port(cfg["port"])


def test_parse_port_from_config():
    for i in range(30):
        log.warning("retry %d: connecting to db-%d", i, i % 3)
    assert load({"port": "70000"}) == 70000


def test_parse_port_plain():
    assert parse_port("8080") == 8080
'''


@dataclass
class Output:
    """One real tool output, the question asked of it and what answers it (regexes, multiline)."""

    name: str
    command: str
    text: str
    query: str
    needles: list[str]


def run(cmd: list[str], cwd: Path = ROOT) -> str:
    """stdout and stderr of a command, as a terminal shows them."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    return proc.stdout + proc.stderr


def produce(tmp: Path) -> list[Output]:
    """Run every command; the outputs with their questions."""
    pip = [PY, "-m", "pip"]
    test_file = tmp / "test_deliberately_failing.py"
    test_file.write_text(FAILING_TEST)
    pytest_cmd = [PY, "-m", "pytest", "tests/algorithms/text", "tests/algorithms/structured", str(test_file)]
    pytest_cmd += ["-q", "-rA", "-p", "no:cacheprovider"]
    steps = [
        [*pip, "install", "--dry-run", "--no-index", "-v", "transformers", "litellm"],
        [*pip, "install", "--dry-run", "--no-index", "compress-no-such-package"],
        [*pip, "install", "--dry-run", "--no-index", "-v", "hydra-core", "datasets", "wandb"],
        [*pip, "check"],
    ]
    transcript = "\n".join(f"$ pip {' '.join(s[3:])}\n{run(s).rstrip()}" for s in steps)
    site = next((ROOT / ".venv" / "lib").glob("python3.*/site-packages"))
    git = run(["git", "log", "--stat", "-n", "80"])
    subjects = re.findall(r"^commit [0-9a-f]{40}\n(?:\w+:.*\n)+\n    (.+)$", git, re.MULTILINE)
    target = subjects[int(0.7 * len(subjects))]
    tok = version("tokenizers")
    in_json = rf'"tokenizers"[^\n]{{0,40}}?"{re.escape(tok)}"'
    return [
        Output(
            "pytest",
            " ".join(["python", *pytest_cmd[1:]]).replace(str(tmp), "$TMP"),
            run(pytest_cmd).replace(str(tmp), "/tmp/bench"),
            "Which test failed, and with what error?",
            [
                r"^FAILED \S*::test_parse_port_from_config\b",
                r"^E\s+ValueError: port out of range: 70000",
            ],
        ),
        Output(
            "pip install",
            "; ".join(f"pip {' '.join(s[3:])}" for s in steps),
            transcript,
            "Which requirement could not be installed?",
            [r"^ERROR: No matching distribution found for compress-no-such-package"],
        ),
        Output(
            "pip list -v",
            "pip list -v",
            run([*pip, "list", "-v"]),
            "Where is tokenizers installed, and which version?",
            [rf"^tokenizers\s+{re.escape(tok)}\s"],
        ),
        Output(
            "ls -la site-packages",
            "ls -la .venv/lib/python3.11/site-packages",
            run(["ls", "-la", str(site)]),
            "When was the tokenizers directory last modified?",
            [r"^d\S+ .* tokenizers$"],
        ),
        Output(
            "grep -rn",
            'grep -rn "def " compress/algorithms',
            run(["grep", "-rn", "def ", "compress/algorithms"]),
            "Where is split_units defined?",
            [r"^compress/algorithms/text/units\.py:\d+:def split_units\("],
        ),
        Output(
            "git log --stat",
            "git log --stat -n 80",
            git,
            f"Which commit says '{target}', and what did it change?",
            [rf"^    {re.escape(target)}$"],
        ),
        Output(
            "pip list json",
            "pip list --format=json",
            run([*pip, "list", "--format=json"]),
            "Which version of tokenizers is installed?",
            [in_json],
        ),
        Output(
            "pip inspect",
            "pip inspect",
            run([*pip, "inspect"]),
            "Which version of tokenizers is installed?",
            [in_json],
        ),
    ]


def found(patterns: list[str], text: str, shape: str | None) -> float:
    """The share of the patterns the text holds (a JSON text in either form: its own or the table's)."""
    if not patterns:
        return float("nan")
    if shape == "json":  # rows of a table drop the keys: `["tokenizers","0.23.3"]`
        text = text + "\n" + re.sub(r'"(\w+)":', "", text)
    return sum(bool(re.search(p, text, re.MULTILINE)) for p in patterns) / len(patterns)


def kept_lines(lines: list[str], text: str) -> float:
    """The share of `lines` that a text holds whole (a log's repeated line with its `  [×N]` too)."""
    if not lines:
        return float("nan")
    have = set(text.split("\n"))
    have |= {re.sub(r"  \[×\d+\]$", "", h) for h in have}
    return sum(line in have for line in lines) / len(lines)


def rebuilt(packed: str, shape: str, store: ExpandStore) -> str:
    """A packed log or listing with every marker replaced by what the store keeps for it."""
    parts: list[str] = []
    block: list[str] = []
    for line in packed.split("\n"):
        m = MARKER.fullmatch(line)
        if m is None:
            block.append(line)
            continue
        if block:
            parts.append(restore("\n".join(block), shape))
            block = []
        parts.append(store.get(m.group(1)))
    if block:
        parts.append(restore("\n".join(block), shape))
    return "\n".join(parts)


def measure(out: Output, counter: TokenCounter) -> dict[str, Any]:
    """Route, lossless ratio, and at each rate: pack against truncation at the same budget."""
    text = out.text
    n = counter.count(text)
    t0 = time.perf_counter()
    shape = route(text)
    route_ms = (time.perf_counter() - t0) * 1e3
    row: dict[str, Any] = {
        "output": out.name,
        "command": out.command,
        "query": out.query,
        "lines": text.count("\n") + 1,
    }
    row |= {"chars": len(text), "tokens": n, "shape": shape, "route_ms": round(route_ms, 3)}
    stem = OUT / re.sub(r"\W+", "_", out.name)
    stem.with_suffix(".txt").write_text(text)
    if shape is None:
        return row
    lossless = compact(text, shape)
    if shape == "json":
        parsed = parse_json(text)
        exact = parsed is not None and same(restore_value(lossless), parsed)
    else:
        exact = restore(lossless, shape) == text
    errors = [line for line in text.split("\n") if ERROR_LINE.search(line)] if shape != "json" else []
    row |= {"lossless_tokens": counter.count(lossless), "lossless_exact": exact, "error_lines": len(errors)}
    row["lossless_ratio"] = round(row["lossless_tokens"] / n, 3)
    for rate in RATES:
        budget = tokens_at(rate, n)
        reps = 3 if n < 50_000 else 1
        store = ExpandStore()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            packed = pack(text, shape, budget, counter.count, out.query, store)
            times.append(time.perf_counter() - t0)
        assert packed is not None
        cut = counter.truncate(text, budget)
        tag = f"r{int(rate * 100):02d}"
        stem.with_suffix(f".{tag}.packed.txt").write_text(packed.text)
        stem.with_suffix(f".{tag}.truncate.txt").write_text(cut)
        after = counter.count(packed.text)
        row[tag] = {
            "budget": budget,
            "packed_tokens": after,
            "within_budget": after <= budget,
            "lossless": packed.lossless,
            "markers": len(packed.ids),
            "query_kept": found(out.needles, packed.text, shape),
            "query_kept_truncate": found(out.needles, cut, shape),
            "errors_kept": kept_lines(errors, packed.text),
            "errors_kept_truncate": kept_lines(errors, cut),
            "ms": round(statistics.median(times) * 1e3, 1),
            "ms_per_1k_tokens": round(statistics.median(times) * 1e6 / n, 2),
            "expand_exact": (rebuilt(packed.text, shape, store) == text)
            if shape != "json"
            else all(i in store for i in packed.ids),
        }
    return row


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"  # NaN: nothing to keep


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the results."""
    head = (
        "| output | shape | tokens | lossless | rate | pack tokens (budget) | markers | query kept: pack / truncate "
        "| errors kept: pack / truncate (of) | ms / 1k tokens |\n|---|---|---:|---:|---:|---:|---:|---|---|---:|\n"
    )
    lines = []
    for r in rows:
        if r.get("shape") is None:
            lines.append(f"| {r['output']} | none | {r['tokens']} | – | | | | | | |")
            continue
        for rate in RATES:
            m = r[f"r{int(rate * 100):02d}"]
            lines.append(
                f"| {r['output']} | {r['shape']} | {r['tokens']} | {r['lossless_ratio']:.2f} | {rate} "
                f"| {m['packed_tokens']} ({m['budget']}) | {m['markers']} "
                f"| {_pct(m['query_kept'])} / {_pct(m['query_kept_truncate'])} "
                f"| {_pct(m['errors_kept'])} / {_pct(m['errors_kept_truncate'])} ({r['error_lines']}) "
                f"| {m['ms_per_1k_tokens']:.1f} |"
            )
    return head + "\n".join(lines) + "\n"


README = """# Tool outputs: routed by shape, compacted losslessly, cut visibly

Question (issue 29, part 3): a tool output (JSON, a log, a listing) routed as prose loses what matters:
`bm25` at 4x on a 300-line log kept its first lines, not its one error. Routed by shape before any lossy
step (`compress.algorithms.structured`), how much does lossless compaction alone save, and at
truncation's budget (4x and 10x) do the errors and the lines a question needs survive?

```bash
.venv/bin/python experiments/tool_outputs/bench.py      # about a minute on 2 cores; offline
```

Every output is real, made on this machine by the commands below (outputs/, ignored by git, keeps
each with what `pack` and truncation made of it). Tokens are the bundled Gemma's ({tokenizer}).
*lossless*: tokens of the compact form over the original's (JSON minified with tables, repeated log
lines counted, paths grouped by directory, grep hits by file; checked to restore exactly).
*pack*: `pack(text, shape, budget, count, query, store)` at truncation's budget (`rate` of the
tokens); *query kept*: the share of the lines answering the question that survive (pack / the
`truncate` baseline at the same budget); *errors kept*: the share of the lines reporting an error
(`signals.ERROR_LINE`) that survive whole; *ms / 1k tokens*: pack's time (the median of 3 runs
under 50k tokens), counting included. Every left-out run came back exactly from its marker's id
(expand exact: {expand_ok}); every result within its budget: {within_ok}.

{table}
Commands and questions:

{commands}

Results per output: `results/<output>.json`; all of them: `results/summary.json`.
Run {when}, {machine}.
"""


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    counter = TokenCounter(DEFAULT_TARGET, default_cache())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outputs = produce(Path(tmp))
    print(f"outputs made in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows = []
    for out in outputs:
        t1 = time.perf_counter()
        row = measure(out, counter)
        rows.append(row)
        name = re.sub(r"\W+", "_", out.name)
        (RESULTS / f"{name}.json").write_text(json.dumps(row, indent=2) + "\n")
        print(
            f"{out.name}: {row['tokens']} tokens, {row['shape']}, {time.perf_counter() - t1:.1f} s",
            file=sys.stderr,
        )
    (RESULTS / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    measured = [r[f"r{int(rate * 100):02d}"] for r in rows if r.get("shape") for rate in RATES]
    commands = "\n".join(f"- **{r['output']}**: `{r['command']}` — *{r['query']}*" for r in rows)
    cpu = run(["sh", "-c", "nproc; uname -m"]).split()
    (HERE / "README.md").write_text(
        README.format(
            tokenizer=counter.name,
            table=table(rows),
            commands=commands,
            expand_ok=all(m["expand_exact"] for m in measured),
            within_ok=all(m["within_budget"] for m in measured),
            when=time.strftime("%Y-%m-%d"),
            machine=f"{cpu[0]} CPUs ({cpu[1]}), {time.perf_counter() - t0:.0f} s in all",
        )
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

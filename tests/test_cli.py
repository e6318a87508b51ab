"""The `compress` command as a user runs it (a subprocess): `compress text` on a baseline and on a
package, from a file and from stdin, text or JSON out, figures on stderr, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compress.export.__main__ import main as export_main
from tests.conftest import CACHE, ROOT
from tests.serve.test_tool_outputs import ERROR_LINE, LOG, QUESTION

TEXT = (
    "The observatory on the northern ridge was finished in 1931 after nine years of work. Its main "
    "telescope, a 72-inch reflector ground by hand in Pittsburgh, was the largest in the country for a "
    "decade, and astronomers there catalogued more than twelve thousand variable stars.\n"
)


def compress_cli(
    args: list[str], stdin: bytes | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[bytes]:
    """`python -m compress.cli ARGS` (what the `compress` console script runs), from the repo root."""
    env = dict(os.environ) | {"PYTHONPATH": str(ROOT), "COMPRESS_CACHE": str(CACHE)}
    return subprocess.run(
        [sys.executable, "-m", "compress.cli", *args],
        input=stdin,
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=timeout,
    )


def test_several_files_as_one_context_for_a_query(tmp_path: Path) -> None:
    docs = {
        "zlib.txt": "The zlib module compresses data with DEFLATE. Its default compression level is 6.",
        "heapq.txt": "The heapq module keeps a list as a binary heap. The smallest item is at index 0.",
    }
    for name, text in docs.items():
        (tmp_path / name).write_text(text)
    files = [str(tmp_path / n) for n in docs]
    args = [
        "text",
        "bm25",
        *files,
        "--rate",
        "0.5",
        "--query",
        "default compression level",
        "--joint",
        "--json",
    ]
    proc = compress_cli(args)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(results) == 2 and "default compression level is 6" in results[0]["compressed"]
    assert results[1]["status"] == "dropped" and results[1]["compressed"] == ""
    # the budget (half of both) holds the whole zlib text: it comes back as it was
    assert results[0]["status"] == "passthrough" and "heapq.txt: dropped" in proc.stderr.decode()
    proc = compress_cli(["text", "truncate", *files, "--rate", "0.5", "--joint"])
    assert proc.returncode != 0 and "joint=True: truncate" in proc.stderr.decode()


def test_text_from_stdin_and_file(tmp_path: Path) -> None:
    proc = compress_cli(["text", "truncate", "-", "--rate", "0.5"], stdin=TEXT.encode())
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = proc.stdout.decode()
    assert TEXT.startswith(out.rstrip("\n")) and 0 < len(out) < len(TEXT)
    err = proc.stderr.decode()
    assert "compressed" in err and "tokens" in err and "gemma3-270m" in err
    src = tmp_path / "in.txt"
    src.write_text(TEXT)
    proc = compress_cli(["text", "truncate", str(src), "--target-tokens", "12", "--json"])
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "compressed" and result["tokens_after"] <= 12 and result["domain"] == "nl"
    assert set(result) == {
        "compressed",
        "tokens_before",
        "tokens_after",
        "tokenizer",
        "domain",
        "seconds",
        "status",
        "ids",
    }


def test_a_log_is_routed_as_one_and_its_markers_named(tmp_path: Path) -> None:
    src = tmp_path / "service.log"
    src.write_text(LOG)
    proc = compress_cli(["text", "bm25", str(src), "--rate", "0.1", "--domain", "log", "--query", QUESTION])
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert ERROR_LINE in out.splitlines() and len(out) < len(LOG) / 2
    assert "domain log" in err and "marker" in err and "(ids " in err
    # routed without --domain: the same shape, every id named in the result and marked in its text
    proc = compress_cli(["text", "bm25", str(src), "--rate", "0.1", "--json"])
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    result = json.loads(proc.stdout)
    assert result["domain"] == "log" and result["status"] == "compressed" and result["ids"]
    assert all(f"id {i}" in result["compressed"] for i in result["ids"])
    assert ", ".join(result["ids"]) in proc.stderr.decode()


def test_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café crème".encode("latin-1"))
    proc = compress_cli(["text", "truncate", str(bad), "--rate", "0.5"])
    assert proc.returncode == 2 and b"not UTF-8" in proc.stderr and b"Traceback" not in proc.stderr
    proc = compress_cli(["text", "truncate", str(tmp_path / "missing.txt"), "--rate", "0.5"])
    assert proc.returncode == 2 and b"cannot read" in proc.stderr
    proc = compress_cli(["text", "nonesuch", "-", "--rate", "0.5"], stdin=b"hello")
    assert proc.returncode == 2 and b"baseline name" in proc.stderr
    proc = compress_cli(["text", "truncate", "-", "--rate", "0.5", "--target-tokens", "3"], stdin=b"hello")
    assert proc.returncode == 2 and b"not allowed with" in proc.stderr  # argparse: one budget only
    proc = compress_cli(["text", "truncate", "-", "--rate", "2"], stdin=TEXT.encode())
    assert proc.returncode == 2 and b"(0, 1]" in proc.stderr


@pytest.mark.slow  # the session's trained smoke run (about 2 minutes on 2 cores) is the cost: pytest -m slow
def test_text_with_a_package(smoke_run: Path, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    assert export_main([str(smoke_run), "--package", str(pkg), "--gguf"]) == 0
    proc = compress_cli(["text", str(pkg), "-", "--target-tokens", "24", "--json"], stdin=TEXT.encode())
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    result = json.loads(proc.stdout)
    assert result["tokens_before"] > 0 and result["status"] in {"compressed", "passthrough"}
    if result["status"] == "compressed":
        assert result["tokens_after"] < result["tokens_before"]
    assert b"(generative)" in proc.stderr


@pytest.mark.parametrize(
    ("module", "says"),
    [
        ("compress.report", "usage: python -m compress.report"),
        ("compress.export", "usage: python -m compress.export"),
        ("compress.serve", "usage: compress serve"),
        ("compress.sweep", "usage: python -m compress.sweep"),
        ("compress.prepare", "usage: python -m compress.prepare"),
        ("compress.cli", "usage: compress"),
        ("compress.run", "run is powered by Hydra"),
    ],
)
def test_every_python_m_entry_point_runs_its_main(module: str, says: str) -> None:
    """`python -m <module> --help` reaches the module's main (a `__main__.py` without its call
    would exit 0 having done nothing)."""
    env = dict(os.environ) | {"PYTHONPATH": str(ROOT), "COMPRESS_CACHE": str(CACHE)}
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and says in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]

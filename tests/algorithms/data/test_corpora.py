"""Corpora every machine has, user files, and clear errors on malformed input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from datasets import Dataset
from omegaconf import OmegaConf

from compress.algorithms.data.corpora import SOURCES, assign_splits, load_samples
from compress.infra.errors import CompressError
from tests.conftest import run_cli


def _cfg(**kw: object) -> object:
    base = {
        "source": "stdlib_nl",
        "path": None,
        "text_field": "text",
        "n_samples": 12,
        "min_words": 20,
        "max_words": 200,
        "seed": 0,
        "splits": {"train": 0.8, "val": 0.1, "test": 0.1},
    }
    return OmegaConf.create(base | kw)


@pytest.mark.parametrize(
    ("source", "domain"), [("stdlib_nl", "nl"), ("stdlib_code", "code"), ("stdlib_memory", "memory")]
)
def test_stdlib_corpora(source: str, domain: str) -> None:
    ds = load_samples(_cfg(source=source), domain)
    assert len(ds) == 12
    assert set(ds["domain"]) == {domain}
    assert len(set(ds["id"])) == 12
    assert "test" in set(ds["split"]) and "train" in set(ds["split"])
    for words in (len(t.split()) for t in ds["text"]):
        assert 20 <= words <= 200
    # same seed, same samples
    assert list(load_samples(_cfg(source=source), domain)["id"]) == list(ds["id"])


def test_code_samples_parse() -> None:
    import ast

    texts = load_samples(_cfg(source="stdlib_code"), "code")["text"]
    assert len(texts) == 12
    for text in texts:
        ast.parse(text)


@pytest.mark.parametrize("source", sorted(set(SOURCES) - {"file"}))
def test_every_corpus_every_machine_has_is_there(source: str) -> None:
    """The selector's labels and the stdlib presets draw from these: each must hold passages here (an
    empty one would train and evaluate on nothing without a word)."""
    texts = [r["text"] for r in itertools.islice(SOURCES[source](_cfg(seed=0)), 400)]
    fit = [t for t in texts if 20 <= len(t.split()) <= 220]
    assert len(fit) >= 50, (source, len(texts), len(fit))
    assert len(set(fit)) >= 0.9 * len(fit)


def test_an_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(CompressError, match="no sample has between"):
        load_samples(_cfg(source="file", path=str(empty)), "nl")


def test_splits_are_stable_and_proportional() -> None:
    ids = [f"id{i}" for i in range(100)]
    a = assign_splits(ids, {"train": 0.8, "val": 0.1, "test": 0.1})
    b = assign_splits(list(reversed(ids)), {"train": 0.8, "val": 0.1, "test": 0.1})
    assert a == b
    assert sorted(a.values()).count("train") == 80 and list(a.values()).count("test") == 10
    small = assign_splits(["a", "b", "c"], {"train": 0.8, "val": 0.1, "test": 0.1})
    assert "test" in small.values() and "train" in small.values()


def test_user_files(tmp_path: Path) -> None:
    rows = [{"text": f"note number {i} about the project deadline on day {i}", "id": i} for i in range(5)]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    csv = tmp_path / "c.csv"
    csv.write_text("id,body\n" + "\n".join(f'{r["id"]},"{r["text"]}"' for r in rows))
    hf = tmp_path / "hfds"
    Dataset.from_list(rows).save_to_disk(str(hf))
    for path, field in ((jsonl, "text"), (csv, "body"), (hf, "text")):
        ds = load_samples(_cfg(source="file", path=str(path), text_field=field, min_words=1), "memory")
        assert len(ds) == 5 and set(ds["domain"]) == {"memory"}


@pytest.mark.parametrize(
    ("content", "field", "needle"),
    [
        ('{"text": "fine"}\n{"text": "broken\n', "text", "line 2 is not valid JSON"),
        ('{"body": "x"}\n', "text", "has no field 'text'"),
        ('{"text": 3}\n', "text", "holds int, not text"),
    ],
)
def test_malformed_jsonl_names_line_and_fix(tmp_path: Path, content: str, field: str, needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CompressError, match=r"bad\.jsonl") as err:
        load_samples(_cfg(source="file", path=str(path), text_field=field, min_words=1), "nl")
    assert needle in str(err.value)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_non_utf8_byte_names_file_line_and_offset(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"latin1{suffix}"
    first = '{"text": "a fine first line"}\n' if suffix == ".jsonl" else "text\n"
    second = '{"text": "caf\xe9"}\n' if suffix == ".jsonl" else "caf\xe9\n"
    path.write_bytes(first.encode() + second.encode("latin-1"))
    with pytest.raises(CompressError) as err:
        load_samples(_cfg(source="file", path=str(path), min_words=1), "nl")
    offset = len(first.encode()) + second.encode("latin-1").index(b"\xe9")
    assert f"line 2 is not valid UTF-8 (byte 0xe9 at byte offset {offset}" in str(err.value)
    assert "iconv" in str(err.value)


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="no such file"):
        load_samples(_cfg(source="file", path=str(tmp_path / "nope.jsonl")), "nl")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(CompressError, match="unknown format"):
        load_samples(_cfg(source="file", path=str(tmp_path / "x.parquet")), "nl")
    (tmp_path / "c.csv").write_text("a,b\n1,2\n")
    with pytest.raises(CompressError, match="no column 'text'"):
        load_samples(_cfg(source="file", path=str(tmp_path / "c.csv")), "nl")


def test_cli_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "corpus.jsonl"
    bad.write_text('{"text": "a fine first line of text"}\nnot json at all\n')
    proc = run_cli(
        ["data=file", f"data.path={bad}", "logger=none", f"paths.outputs={tmp_path}/out"],
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "line 2 is not valid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr

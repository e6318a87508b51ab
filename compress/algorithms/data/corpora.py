"""Corpora every machine has (the running Python's standard library) and user files.

Each loader yields plain dicts with `id`, `domain`, `source`, `text`; `load_samples` picks the
configured number of samples, assigns stable train/val/test splits and returns an Arrow dataset.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import inspect
import random
import re
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk

from compress.algorithms.data.domains import classify
from compress.algorithms.data.jsonl import json_objects, utf8_lines
from compress.infra.errors import CompressError
from compress.infra.schemas import SAMPLE_FEATURES

# Parts of the standard library that are tests, vendored code or generated tables, not prose or API code.
_SKIP_PARTS = {
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "site-packages",
    "dist-packages",
    "__pycache__",
    "turtledemo",
}


def stable_hash(text: str) -> str:
    """A short content hash used for ids and splits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stdlib_files(seed: int) -> list[Path]:
    """The standard library's .py files in a seeded order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if not _SKIP_PARTS.intersection(p.relative_to(root).parts))
    random.Random(seed).shuffle(files)
    return files


def _parse(path: Path) -> tuple[ast.Module, str] | None:
    try:
        source = path.read_text(encoding="utf-8")
        return ast.parse(source), source
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None


def _parsed_stdlib(seed: int) -> Iterator[tuple[Path, ast.Module, str]]:
    """Each standard-library file that parses, with its tree and source, in seeded order."""
    for path in stdlib_files(seed):
        parsed = _parse(path)
        if parsed is not None:
            yield path, parsed[0], parsed[1]


def _rel(path: Path) -> str:
    return str(path.relative_to(Path(sysconfig.get_paths()["stdlib"])))


def _defs(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node


def iter_stdlib_nl(seed: int) -> Iterator[dict[str, str]]:
    """Docstrings of modules, classes and functions: English prose about real APIs."""
    for path, tree, _ in _parsed_stdlib(seed):
        nodes: list[Any] = [tree, *_defs(tree)]
        for node in nodes:
            doc = ast.get_docstring(node)
            if not doc:
                continue
            name = getattr(node, "name", "<module>")
            key = f"{_rel(path)}::{name}"
            yield {"id": stable_hash(key), "domain": "nl", "source": key, "text": inspect.cleandoc(doc)}


def iter_stdlib_code(seed: int) -> Iterator[dict[str, str]]:
    """Top-level functions and classes of the standard library, as source."""
    for path, tree, source in _parsed_stdlib(seed):
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            segment = ast.get_source_segment(source, node)
            if not segment:
                continue
            key = f"{_rel(path)}::{node.name}"
            yield {"id": stable_hash(key), "domain": "code", "source": key, "text": segment}


def iter_stdlib_memory(seed: int) -> Iterator[dict[str, str]]:
    """Assistant-style notes recording facts about a module, built from its source."""
    for path, tree, source in _parsed_stdlib(seed):
        doc = ast.get_docstring(tree)
        funcs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
        if not doc or not (funcs or classes):
            continue
        module = _rel(path).removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        summary = inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
        lines = [
            f"- The user is working with the standard-library module `{module}` ({_rel(path)}).",
            f"- Its docstring says: {summary}",
            f"- The file is {source.count(chr(10)) + 1} lines long.",
        ]
        if funcs:
            lines.append(f"- Public functions they may call: {', '.join(funcs[:12])}.")
        if classes:
            lines.append(f"- Public classes: {', '.join(classes[:8])}.")
        imports = sorted(
            {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
            | {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        )
        if imports:
            lines.append(f"- It imports: {', '.join(imports[:10])}.")
        lines.append("- The user prefers short answers with runnable examples.")
        key = f"{_rel(path)}::memory"
        yield {"id": stable_hash(key), "domain": "memory", "source": key, "text": "\n".join(lines)}


def _read_jsonl(path: Path, field: str) -> Iterator[dict[str, str]]:
    for lineno, row in json_objects(path, "data.path", '{"text": "..."}'):
        if field not in row:
            raise CompressError(
                f"data.path={path}: line {lineno} has no field {field!r} (it has {sorted(row)}). "
                f"Set data.text_field to the field that holds the text."
            )
        yield _user_row(path, lineno, row[field], row.get("id"))


def _read_csv(path: Path, field: str) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(line for _, line in utf8_lines(path, "data.path"))
    if reader.fieldnames is None or field not in reader.fieldnames:
        raise CompressError(
            f"data.path={path}: the CSV header has no column {field!r} (it has {reader.fieldnames}). "
            "Set data.text_field to the column that holds the text."
        )
    for lineno, row in enumerate(reader, 2):
        if None in row:
            raise CompressError(
                f"data.path={path}: line {lineno} has more cells than the header. Quote cells that contain commas."
            )
        yield _user_row(path, lineno, row[field], row.get("id"))


def _read_hf(path: Path, field: str) -> Iterator[dict[str, str]]:
    try:
        ds = load_from_disk(str(path))
    except Exception as exc:
        raise CompressError(
            f"data.path={path}: not a dataset saved with datasets.save_to_disk ({exc}). "
            "Point data.path at a .jsonl, a .csv or a save_to_disk directory."
        ) from exc
    if field not in ds.column_names:
        raise CompressError(
            f"data.path={path}: the dataset has no column {field!r} (it has {ds.column_names}). "
            "Set data.text_field."
        )
    for i, row in enumerate(ds):
        yield _user_row(path, i, row[field], row.get("id"))


def _user_row(path: Path, where: int, text: Any, row_id: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise CompressError(
            f"data.path={path}: row {where} holds {type(text).__name__}, not text. Every row's text must be a string."
        )
    key = str(row_id) if row_id is not None else f"{path.name}:{where}:{stable_hash(text)}"
    return {"id": stable_hash(key), "domain": "", "source": f"{path.name}:{where}", "text": text}


def iter_file(path_str: str | None, field: str) -> Iterator[dict[str, str]]:
    """Rows of a user file: JSONL, CSV or a saved HF dataset directory."""
    if not path_str:
        raise CompressError(
            "data=file needs data.path: pass data.path=/path/to/corpus.jsonl (or .csv, or a dataset dir)."
        )
    path = Path(path_str).expanduser()
    if not path.exists():
        raise CompressError(
            f"data.path={path}: no such file or directory. Check the path (relative paths start at the working directory)."
        )
    if path.is_dir():
        return _read_hf(path, field)
    if path.suffix in {".jsonl", ".json"}:
        return _read_jsonl(path, field)
    if path.suffix == ".csv":
        return _read_csv(path, field)
    raise CompressError(
        f"data.path={path}: unknown format {path.suffix!r}. Use .jsonl, .csv or a save_to_disk directory."
    )


def chunks(text: str, max_words: int = 220) -> Iterator[str]:
    """Consecutive blank-line paragraphs of `text` grouped into pieces of at most `max_words` words (a
    longer paragraph stands alone): reference prose cut to the size of a retrieved passage."""
    piece: list[str] = []
    words = 0
    for para in re.split(r"\n[ \t]*\n", text):
        n = len(para.split())
        if not n:
            continue
        if piece and words + n > max_words:
            yield "\n\n".join(piece)
            piece, words = [], 0
        piece.append(para.strip("\n"))
        words += n
    if piece:
        yield "\n\n".join(piece)


def iter_pydoc_topics(seed: int) -> Iterator[dict[str, str]]:
    """The Python language reference as the interpreter ships it (`pydoc_data.topics`, what `help()`
    shows), cut into passages, in a seeded order."""
    from pydoc_data.topics import topics

    rows = [
        {"id": stable_hash(f"pydoc::{name}::{i}"), "domain": "nl", "source": f"pydoc::{name}", "text": piece}
        for name in sorted(topics)
        for i, piece in enumerate(chunks(topics[name]))
    ]
    random.Random(seed).shuffle(rows)
    yield from rows


# Debian's package documentation: READMEs, news and changelogs (plain or gzipped text)
USR_SHARE_DOC = Path("/usr/share/doc")
_DOC_FILES = re.compile(r"^(README|NEWS|changelog|CHANGES|TODO|FAQ)[\w.-]*$|\.(md|txt|rst)(\.gz)?$", re.I)


def iter_usr_share_doc(seed: int, root: Path = USR_SHARE_DOC) -> Iterator[dict[str, str]]:
    """Passages of the machine's package documentation under /usr/share/doc (none where it is absent),
    in a seeded order of files."""
    files = (
        sorted(p for p in root.rglob("*") if p.is_file() and _DOC_FILES.search(p.name))
        if root.is_dir()
        else []
    )
    random.Random(seed).shuffle(files)
    for path in files:
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        for i, piece in enumerate(chunks(text)):
            key = f"{path.relative_to(root)}::{i}"
            yield {"id": stable_hash(key), "domain": "nl", "source": key, "text": piece}


def iter_stdlib_mixed(seed: int) -> Iterator[dict[str, str]]:
    """Prose, code and notes of the standard library, interleaved."""
    iterators = [iter_stdlib_nl(seed), iter_stdlib_code(seed), iter_stdlib_memory(seed)]
    while iterators:
        for it in list(iterators):
            row = next(it, None)
            if row is None:
                iterators.remove(it)
            else:
                yield row


SOURCES: dict[str, Callable[[Any], Iterator[dict[str, str]]]] = {
    "stdlib_nl": lambda cfg: iter_stdlib_nl(cfg.seed),
    "stdlib_code": lambda cfg: iter_stdlib_code(cfg.seed),
    "stdlib_memory": lambda cfg: iter_stdlib_memory(cfg.seed),
    "stdlib_mixed": lambda cfg: iter_stdlib_mixed(cfg.seed),
    "file": lambda cfg: iter_file(cfg.path, cfg.text_field),
    "pydoc_topics": lambda cfg: iter_pydoc_topics(cfg.seed),
    "usr_share_doc": lambda cfg: iter_usr_share_doc(cfg.seed),
}


def assign_splits(ids: list[str], fractions: dict[str, float]) -> dict[str, str]:
    """Stable split per id: sort by hash, then cut by the configured fractions (test gets at least one)."""
    order = sorted(ids, key=lambda i: stable_hash("split:" + i))
    n = len(order)
    n_train = round(n * fractions.get("train", 0.8))
    n_val = round(n * fractions.get("val", 0.1))
    if n >= 2 and n_train + n_val >= n:
        n_train = max(1, n - n_val - 1) if n_train + n_val >= n else n_train
        n_val = max(0, n - n_train - 1)
    out: dict[str, str] = {}
    for rank, i in enumerate(order):
        out[i] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def load_samples(data_cfg: Any, domain: str) -> Dataset:
    """The configured corpus as a dataset of samples with splits (raises CompressError on bad input)."""
    source = str(data_cfg.source)
    if source not in SOURCES:
        raise CompressError(f"data.source={source!r} is unknown. Choose one of {sorted(SOURCES)}.")
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for row in SOURCES[source](data_cfg):
        words = len(row["text"].split())
        if not (data_cfg.min_words <= words <= data_cfg.max_words) or row["id"] in seen:
            continue
        seen.add(row["id"])
        # a mixed corpus is routed by the rule-based classifier, whatever its source says
        row["domain"] = classify(row["text"]) if domain == "mixed" else row["domain"] or domain
        rows.append(row)
        if len(rows) >= data_cfg.n_samples:
            break
    if not rows:
        raise CompressError(
            f"data.source={source}: no sample has between {data_cfg.min_words} and {data_cfg.max_words} words. "
            "Widen data.min_words / data.max_words or check the corpus."
        )
    splits = assign_splits([r["id"] for r in rows], dict(data_cfg.splits))
    for r in rows:
        r["split"] = splits[r["id"]]
    return Dataset.from_list(rows, features=SAMPLE_FEATURES)

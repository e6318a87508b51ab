"""QA sets in the formats people have, as (question, answers, context) records for the `qa` gold task.

`evaluate.qa.path` may be:
- a JSONL file (one record per line) or a JSON file (a list of records, or SQuAD's nested
  `{"data": [{"paragraphs": [{"context", "qas": [{"question", "answers": [...]}]}]}]}`);
- a CSV file (one record per row; a list of answers as a JSON list in its cell, or several joined by `|`);
- a directory written by `datasets.save_to_disk` (a Dataset, or a DatasetDict: `evaluate.qa.split`);
- a Hugging Face Hub dataset name (`squad`, `rajpurkar/squad_v2`; needs the network), with
  `evaluate.qa.split` and `evaluate.qa.config`.

Field names come from `evaluate.qa.fields` (`question`, `context`, `answers`, `id`; the answers field
may also be called `answer`). An answer is a string, a list of strings, a list of `{"text": ...}` or
SQuAD's `{"text": [...], "answer_start": [...]}`. A record that does not read is an error naming the
fields found and the config keys to set.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from compress.algorithms.data.jsonl import json_objects, utf8_lines
from compress.infra.errors import CompressError

FIX = "set evaluate.qa.fields.question / .context / .answers to the names your records use"


@dataclass(frozen=True)
class Fields:
    """Which record fields hold the question, the context, the accepted answers and the id."""

    question: str = "question"
    context: str = "context"
    answers: str = "answers"
    id: str = "id"

    @classmethod
    def from_config(cls, node: Any) -> Fields:
        """From `evaluate.qa.fields` (missing keys keep the defaults)."""
        given = {k: str(v) for k, v in dict(node or {}).items() if v}
        return cls(**given)


@dataclass(frozen=True)
class QARecord:
    """One question with its context and accepted answers."""

    id: str
    question: str
    context: str
    answers: list[str]


def answer_texts(value: Any) -> list[str]:
    """The accepted answers of any common shape (a string, a list, `{"text": [...]}`, `[{"text": ...}]`)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping) and "text" in value:
        return answer_texts(value["text"])
    if isinstance(value, list | tuple):
        out: list[str] = []
        for v in value:
            out += answer_texts(v)
        return out
    raise TypeError(f"an answer must be a string, a list or {{'text': [...]}}, not {type(value).__name__}")


def _record(row: Mapping[str, Any], fields: Fields, where: str, default_id: str) -> QARecord:
    answers_key = fields.answers if fields.answers in row or "answer" not in row else "answer"
    missing = [f for f in (fields.question, fields.context, answers_key) if f not in row]
    if missing:
        raise CompressError(
            f"{where}: no field {missing[0]!r} in the record (its fields: {sorted(row)}); {FIX}."
        )
    try:
        answers = [a for a in answer_texts(row[answers_key]) if a.strip()]
    except TypeError as exc:
        raise CompressError(f"{where}: field {answers_key!r}: {exc}; {FIX}.") from exc
    if not answers:
        raise CompressError(f"{where}: field {answers_key!r} holds no answer (an unanswerable question?).")
    return QARecord(
        str(row.get(fields.id) or default_id), str(row[fields.question]), str(row[fields.context]), answers
    )


def _squad(doc: Mapping[str, Any], fields: Fields, where: str) -> Iterator[QARecord]:
    """SQuAD's nested JSON: articles, their paragraphs (the context), each paragraph's questions."""
    for a, article in enumerate(doc["data"]):
        for p, para in enumerate(article.get("paragraphs", [])):
            for q in para.get("qas", []):
                if q.get("is_impossible"):
                    continue
                row = {fields.context: para.get("context", ""), **q}
                yield _record(row, fields, f"{where} data[{a}].paragraphs[{p}]", str(q.get("id", "")))


def _from_json(path: Path, fields: Fields) -> Iterator[QARecord]:
    text = "".join(line for _, line in utf8_lines(path, "evaluate.qa.path"))
    stripped = text.lstrip()
    if path.suffix == ".json" and stripped.startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            doc = None  # maybe JSON lines after all
        if isinstance(doc, Mapping) and isinstance(doc.get("data"), list):
            yield from _squad(doc, fields, str(path))
            return
        if isinstance(doc, list):
            for i, row in enumerate(doc):
                if not isinstance(row, Mapping):
                    raise CompressError(f"{path}[{i}]: not a JSON object ({type(row).__name__}); {FIX}.")
                yield _record(row, fields, f"{path}[{i}]", str(i))
            return
    for n, row in json_objects(
        path, "evaluate.qa.path", '{"question": ..., "answers": [...], "context": ...}'
    ):
        yield _record(row, fields, f"{path}:{n}", str(n))


def _from_csv(path: Path, fields: Fields) -> Iterator[QARecord]:
    for n, row in enumerate(
        csv.DictReader(line for _, line in utf8_lines(path, "evaluate.qa.path")), start=2
    ):
        plain: dict[str, Any] = dict(row)
        for key in (fields.answers, "answer"):
            cell = plain.get(key)
            if isinstance(cell, str):
                try:
                    parsed = json.loads(cell)
                except json.JSONDecodeError:
                    parsed = [a.strip() for a in cell.split("|")]
                plain[key] = parsed if isinstance(parsed, list) else cell
        yield _record(plain, fields, f"{path}:{n}", str(n - 1))


def _from_dataset(ds: Dataset, fields: Fields, where: str) -> Iterator[QARecord]:
    for i, row in enumerate(ds):
        yield _record(row, fields, f"{where} row {i}", str(i))


def _pick_split(dd: DatasetDict, split: str | None, where: str) -> Dataset:
    if split and split in dd:
        return dd[split]
    if split:
        raise CompressError(f"{where}: no split {split!r} (it has {list(dd)}); set evaluate.qa.split.")
    for name in ("validation", "test", "train"):
        if name in dd:
            return dd[name]
    return dd[next(iter(dd))]


def read_records(
    source: str, fields: Fields, split: str | None = None, config: str | None = None
) -> Iterator[QARecord]:
    """The records of a QA set (a file, a `save_to_disk` dir, or a Hub dataset name)."""
    path = Path(source).expanduser()
    if path.is_dir():
        try:
            loaded = load_from_disk(str(path))
        except Exception as exc:
            raise CompressError(
                f"evaluate.qa.path={source!r}: a directory, but not one written by datasets.save_to_disk ({exc})."
            ) from exc
        ds = _pick_split(loaded, split, source) if isinstance(loaded, DatasetDict) else loaded
        yield from _from_dataset(ds, fields, source)
    elif path.is_file():
        if path.suffix in (".jsonl", ".json"):
            yield from _from_json(path, fields)
        elif path.suffix == ".csv":
            yield from _from_csv(path, fields)
        else:
            raise CompressError(
                f"evaluate.qa.path={source!r}: unknown format {path.suffix!r}. Use .jsonl, .json, .csv, a "
                "save_to_disk directory or a Hub dataset name."
            )
    elif path.is_absolute() or source.startswith((".", "~")) or path.suffix in (".jsonl", ".json", ".csv"):
        raise CompressError(f"evaluate.qa.path={source!r}: no such file or directory.")
    else:  # a Hub dataset name
        try:
            loaded = load_dataset(source, config, split=split or "validation")
        except Exception as exc:
            raise CompressError(
                f"evaluate.qa.path={source!r}: not a local file or directory, and the Hub dataset of that name "
                f"could not be loaded ({type(exc).__name__}: {str(exc)[:200]}). Point it at a file, or set "
                "evaluate.qa.split / evaluate.qa.config and check the network."
            ) from exc
        yield from _from_dataset(loaded, fields, source)


def load_records(qa_cfg: Any) -> list[QARecord]:
    """At most `qa.max_items` records of `qa.path` (a clear error when it holds none)."""
    source = qa_cfg.get("path")
    if not source:
        raise CompressError("evaluate.tasks has qa but evaluate.qa.path is not set: point it at a QA set.")
    fields = Fields.from_config(qa_cfg.get("fields"))
    out = []
    for rec in read_records(str(source), fields, qa_cfg.get("split"), qa_cfg.get("config")):
        out.append(rec)
        if len(out) >= int(qa_cfg.get("max_items", 200)):
            break
    if not out:
        raise CompressError(f"evaluate.qa.path={source!r} holds no QA records.")
    return out

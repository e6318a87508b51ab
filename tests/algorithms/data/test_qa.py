"""QA sets in the formats people have; a wrong file fails at preflight naming the fields and the fix."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset, DatasetDict
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from compress.algorithms.data.qa import answer_texts, load_records
from compress.algorithms.metrics.tasks import named_task as task
from compress.infra.errors import CompressError, MissingRequirement
from compress.pipeline import preflight
from tests.conftest import ROOT

RECORDS: list[dict[str, Any]] = [
    {
        "id": "q1",
        "question": "Who wrote it?",
        "context": "It was written by Ada.",
        "answers": ["Ada", "Ada L."],
    },
    {
        "id": "q2",
        "question": "When?",
        "context": "In 1843.",
        "answers": {"text": ["1843"], "answer_start": [3]},
    },
]


def _qa(path: Path | str, **extra: object) -> object:
    return OmegaConf.create(
        {"path": str(path), "max_items": 50, "split": None, "config": None, "fields": {}, **extra}
    )


def _check(records: list) -> None:
    assert [(r.id, r.question, r.answers) for r in records] == [
        ("q1", "Who wrote it?", ["Ada", "Ada L."]),
        ("q2", "When?", ["1843"]),
    ]
    assert records[0].context == "It was written by Ada."


def test_answer_shapes() -> None:
    assert answer_texts("x") == ["x"]
    assert answer_texts(["a", "b"]) == ["a", "b"]
    assert answer_texts({"text": ["a"], "answer_start": [0]}) == ["a"]
    assert answer_texts([{"text": "a", "answer_start": 1}]) == ["a"]
    with pytest.raises(TypeError):
        answer_texts(3)


def test_jsonl_json_and_squad_nested(tmp_path: Path) -> None:
    jsonl = tmp_path / "qa.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    _check(load_records(_qa(jsonl)))
    array = tmp_path / "qa.json"
    array.write_text(json.dumps(RECORDS))
    _check(load_records(_qa(array)))
    squad = tmp_path / "squad.json"
    squad.write_text(
        json.dumps(
            {
                "version": "v2.0",
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [
                            {
                                "context": "It was written by Ada.",
                                "qas": [
                                    {
                                        "id": "q1",
                                        "question": "Who wrote it?",
                                        "answers": [
                                            {"text": "Ada", "answer_start": 18},
                                            {"text": "Ada L.", "answer_start": 18},
                                        ],
                                    },
                                    {
                                        "id": "q9",
                                        "question": "Unanswerable?",
                                        "answers": [],
                                        "is_impossible": True,
                                    },
                                ],
                            },
                            {
                                "context": "In 1843.",
                                "qas": [
                                    {
                                        "id": "q2",
                                        "question": "When?",
                                        "answers": [{"text": "1843", "answer_start": 3}],
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        )
    )
    records = load_records(_qa(squad))
    _check(records)


def test_csv_and_save_to_disk_and_field_names(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "question", "context", "answers"])
        w.writerow(["q1", "Who wrote it?", "It was written by Ada.", json.dumps(["Ada", "Ada L."])])
        w.writerow(["q2", "When?", "In 1843.", "1843"])
    _check(load_records(_qa(path)))
    # the Hub's squad layout: answers as {"text": [...], "answer_start": [...]}
    hub_style = {"text": ["Ada", "Ada L."], "answer_start": [18, 18]}
    ds = Dataset.from_list([{**RECORDS[0], "answers": hub_style}, RECORDS[1]])
    ds.save_to_disk(str(tmp_path / "ds"))
    _check(load_records(_qa(tmp_path / "ds")))
    DatasetDict({"train": ds.select([0]), "validation": ds}).save_to_disk(str(tmp_path / "dd"))
    _check(load_records(_qa(tmp_path / "dd")))  # validation is the default split
    assert len(load_records(_qa(tmp_path / "dd", split="train"))) == 1
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(
        "\n".join(
            json.dumps({"q": r["question"], "passage": r["context"], "gold": r["answers"], "id": r["id"]})
            for r in RECORDS
        )
    )
    _check(load_records(_qa(renamed, fields={"question": "q", "context": "passage", "answers": "gold"})))


def test_a_wrong_file_names_its_fields_and_the_keys_to_set(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"query": "q", "passage": "p", "gold": "a"}) + "\n")
    with pytest.raises(CompressError) as err:
        load_records(_qa(wrong))
    msg = str(err.value)
    assert "no field 'question'" in msg and "['gold', 'passage', 'query']" in msg
    assert "evaluate.qa.fields.question" in msg
    with pytest.raises(CompressError, match="no such file"):
        load_records(_qa(tmp_path / "missing.jsonl"))
    with pytest.raises(CompressError, match="unknown format"):
        (tmp_path / "x.parquet").write_text("")
        load_records(_qa(tmp_path / "x.parquet"))
    # ... and preflight says so before any stage runs
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["evaluate.tasks=[qa]", f"evaluate.qa.path={wrong}"])
    with pytest.raises(MissingRequirement) as pre:
        preflight.check(cfg, list(cfg.stages))
    assert "no field 'question'" in str(pre.value) and "nothing was spent" in str(pre.value)


def test_the_fixture_reads_as_the_task(tmp_path: Path) -> None:
    ev = OmegaConf.create({"qa": _qa(ROOT / "tests" / "fixtures" / "qa_small.jsonl")})
    items = task("qa").load(ev)
    assert items and all(it.task == "qa" and it.answers for it in items)

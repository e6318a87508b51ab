"""The `memory` and `tracing` gold-answer tasks: long chat histories and chained facts (no download).

`memory` asks questions about long multi-session conversations (`compress.algorithms.data.memory`:
generated, or a user's own JSON file at `evaluate.memory.path`); `tracing` asks questions whose answer
needs a chain of 1-3 statements spread through a haystack of real prose or code
(`compress.algorithms.data.tracing`). Both are asked as plain QA and graded by normalized containment;
`checks` tells, with no model, whether the compressed context still holds every evidence text whole and
the answer.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from compress.algorithms.data.memory import History, generate, read_histories, render
from compress.algorithms.data.tracing import TracingCase, generate_tracing
from compress.algorithms.metrics.gold import GoldItem, grade_qa, qa_messages
from compress.infra.errors import CompressError


def _flat(text: str) -> str:
    return " ".join(text.split())


def memory_items(histories: list[History]) -> list[GoldItem]:
    """One item per question: the rendered history is the context, the evidence turns' texts the
    evidence."""
    items = []
    for h in histories:
        context, _ = render(h)
        texts = {t.id: t.text for s in h.sessions for t in s.turns}
        for q in h.questions:
            items.append(
                GoldItem(
                    "memory",
                    q.id,
                    context,
                    q.question,
                    [q.answer],
                    evidence=tuple(texts[e] for e in q.evidence),
                    kind=q.kind,
                )
            )
    return items


def tracing_items(cases: list[TracingCase]) -> list[GoldItem]:
    """One item per case; the chain statements are the evidence, the hop count the kind."""
    return [
        GoldItem(
            "tracing", c.id, c.context, c.question, [c.answer], evidence=c.evidence, kind=f"{c.hops}-hop"
        )
        for c in cases
    ]


def kept_checks(item: GoldItem, context: str) -> dict[str, bool]:
    """Whether the (compressed) context still holds every evidence text whole and some answer (white
    space normalised): what a reader needs, told with no model."""
    flat = _flat(context)
    return {
        "evidence_kept": all(_flat(e) in flat for e in item.evidence),
        "answer_kept": any(_flat(a) in flat for a in item.answers),
    }


def _setting(ev: Any, key: str, default: Any) -> Any:
    value = OmegaConf.select(ev, key, default=default) if OmegaConf.is_config(ev) else default
    return default if value is None else value


class MemoryTask:
    """Questions over long multi-session chat histories (`evaluate.memory`)."""

    name = "memory"
    stop: tuple[str, ...] = ()
    # graded with no model (`checks`): every evidence text kept whole, the answer kept
    check_names: tuple[str, ...] = ("evidence_kept", "answer_kept")
    messages = staticmethod(qa_messages)

    def requirements(self, ev: Any) -> list[str]:
        """With `evaluate.memory.path` set, the file must read; generated histories need nothing."""
        path = _setting(ev, "memory.path", None)
        if not path:
            return []
        try:
            read_histories(str(path))
        except CompressError as exc:
            return [f"evaluate: {exc}"]
        return []

    def load(self, ev: Any) -> list[GoldItem]:
        """The items of the user's file at `memory.path`, else of `memory.histories` generated
        histories; at most `memory.max_items`."""
        path = _setting(ev, "memory.path", None)
        if path:
            histories = read_histories(str(path))
        else:
            histories = generate(
                int(_setting(ev, "memory.histories", 12)),
                int(_setting(ev, "memory.seed", 0)),
                questions_per_kind=int(_setting(ev, "memory.questions_per_kind", 5)),
            )
        items = memory_items(histories)
        cap = _setting(ev, "memory.max_items", None)
        return items if cap is None else items[: int(cap)]

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """A normalized accepted answer occurs in the normalized model answer."""
        return grade_qa(item, answer)

    def checks(self, item: GoldItem, context: str) -> dict[str, bool]:
        """Evidence and answer kept in the compressed context (see `kept_checks`)."""
        return kept_checks(item, context)


class TracingTask:
    """Chained facts in a long prose or code haystack (`evaluate.tracing`)."""

    name = "tracing"
    stop: tuple[str, ...] = ()
    # graded with no model (`checks`): every evidence text kept whole, the answer kept
    check_names: tuple[str, ...] = ("evidence_kept", "answer_kept")
    messages = staticmethod(qa_messages)

    def requirements(self, ev: Any) -> list[str]:
        """Nothing: the haystacks are this machine's own standard library and documentation."""
        return []

    def load(self, ev: Any) -> list[GoldItem]:
        """`tracing.items` cases over haystacks of `tracing.haystack_tokens` tokens."""
        return tracing_items(
            generate_tracing(
                int(_setting(ev, "tracing.items", 300)),
                int(_setting(ev, "tracing.seed", 0)),
                haystack_tokens=int(_setting(ev, "tracing.haystack_tokens", 6000)),
            )
        )

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """A normalized accepted answer occurs in the normalized model answer."""
        return grade_qa(item, answer)

    def checks(self, item: GoldItem, context: str) -> dict[str, bool]:
        """Evidence and answer kept in the compressed context (see `kept_checks`)."""
        return kept_checks(item, context)


MEMORY = MemoryTask()
TRACING = TracingTask()

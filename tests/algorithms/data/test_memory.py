"""Generated memory histories: evidence labelled right, answers only in their evidence, kinds balanced,
the word rules of multi-hop and paraphrase, temporal answers only in a date header, updates after their
stale value, sizes, determinism, phrasing variety; and the reader on hand-made files."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from compress.algorithms.data.memory import (
    KINDS,
    History,
    answer_spans_ok,
    content_words,
    generate,
    read_histories,
    render,
    word_count,
    write_histories,
)
from compress.algorithms.text.patterns import TURN
from compress.infra.errors import CompressError


@pytest.fixture(scope="module")
def histories() -> list[History]:
    return generate(3, seed=7, questions_per_kind=3)


def _turns(h: History) -> dict[str, str]:
    return {t.id: t.text for s in h.sessions for t in s.turns}


def _session_of(h: History, turn_id: str) -> int:
    return next(i for i, s in enumerate(h.sessions) if any(t.id == turn_id for t in s.turns))


def test_sizes_sessions_speakers(histories: list[History]) -> None:
    for h in histories:
        assert 10_000 <= word_count(h) / 0.75 <= 30_000
        assert len(h.sessions) >= 20
        assert len(h.speakers) >= 2
        assert len({t.speaker for s in h.sessions for t in s.turns}) >= 2


def test_kinds_balanced(histories: list[History]) -> None:
    for h in histories:
        assert [sum(q.kind == k for q in h.questions) for k in KINDS] == [3] * len(KINDS)
        assert len({q.id for q in h.questions}) == len(h.questions)


def test_answers_only_in_their_evidence(histories: list[History]) -> None:
    for h in histories:
        text, spans = render(h)
        turns = _turns(h)
        for q in h.questions:
            assert answer_spans_ok(h, q), q
            assert q.answer.lower() not in q.question.lower()
            if q.kind != "temporal":
                # the evidence states the answer (multi-hop: the second-hop turn)
                assert any(q.answer.lower() in turns[e].lower() for e in q.evidence)
                assert all(text[a:b] == turns[e] for e, (a, b) in spans.items() if e in q.evidence)


def test_temporal_answer_only_in_its_session_header(histories: list[History]) -> None:
    for h in histories:
        text, _ = render(h)
        for q in (q for q in h.questions if q.kind == "temporal"):
            session = h.sessions[_session_of(h, q.evidence[0])]
            assert session.date.endswith(q.answer)
            headers = [ln for ln in text.splitlines() if q.answer in ln]
            assert headers == [f"Session {_session_of(h, q.evidence[0]) + 1} ({session.date})"]
            assert re.search(
                r"\b(yesterday|today|tonight|this week|this morning|last night)\b", _turns(h)[q.evidence[0]]
            )


def test_header_is_no_turn(histories: list[History]) -> None:
    text, _ = render(histories[0])
    lines = text.splitlines()
    headers = [ln for ln in lines if ln.startswith("Session ")]
    assert len(headers) == len(histories[0].sessions)
    assert not any(TURN.match(ln) for ln in headers)
    assert all(TURN.match(ln) for ln in lines if ln and not ln.startswith("Session "))


def test_multi_hop_second_turn_shares_no_word_and_holds_the_bridge(histories: list[History]) -> None:
    for h in histories:
        turns = _turns(h)
        for q in (q for q in h.questions if q.kind == "multi-hop"):
            first, second = (turns[e] for e in q.evidence)
            assert not content_words(q.question) & content_words(second)
            assert q.answer in second and q.answer not in first
            bridge = content_words(first) & content_words(second) - content_words(q.question)
            assert bridge, (first, second)
            assert _session_of(h, q.evidence[0]) < _session_of(h, q.evidence[1])


def test_paraphrase_shares_no_word_single_hop_shares_some(histories: list[History]) -> None:
    for h in histories:
        turns = _turns(h)
        for q in h.questions:
            words = content_words(turns[q.evidence[0]])
            if q.kind == "paraphrase":
                assert not content_words(q.question) & words
            if q.kind == "single-hop":
                assert content_words(q.question) & words


def test_update_stale_value_comes_earlier(histories: list[History]) -> None:
    for h in histories:
        turns = _turns(h)
        for q in (q for q in h.questions if q.kind == "update"):
            assert len(q.evidence) == 1 and len(q.superseded) == 1
            old = turns[q.superseded[0]]
            assert q.answer.lower() not in old.lower()
            assert _session_of(h, q.superseded[0]) < _session_of(h, q.evidence[0])


def test_deterministic_per_seed() -> None:
    a, b = generate(1, seed=3, questions_per_kind=2), generate(1, seed=3, questions_per_kind=2)
    assert render(a[0])[0] == render(b[0])[0] and a[0].questions == b[0].questions
    assert render(generate(1, seed=4, questions_per_kind=2)[0])[0] != render(a[0])[0]


def test_phrasing_variety() -> None:
    used: dict[str, set[str]] = defaultdict(set)
    for h in generate(4, seed=11, questions_per_kind=4):
        for q in h.questions:
            used[q.kind].add(q.template)
    assert all(len(used[k]) >= 4 for k in KINDS), dict(used)


def test_dates_increase(histories: list[History]) -> None:
    from datetime import datetime

    for h in histories:
        days = [datetime.strptime(s.date, "%d %B %Y") for s in h.sessions]
        assert days == sorted(days) and len(set(days)) == len(days)
        assert 300 <= (days[-1] - days[0]).days <= 3 * 366 + 31


# --- the reader ---


def test_round_trip(tmp_path: Path, histories: list[History]) -> None:
    path = tmp_path / "h.json"
    write_histories(histories[:1], path)
    assert read_histories(path) == histories[:1]


def _minimal() -> dict:
    return {
        "id": "h1",
        "sessions": [
            {
                "id": "s1",
                "date": "1 May 2023",
                "turns": [
                    {"id": "t1", "speaker": "Ana", "text": "I moved to Porto."},
                    {"id": "t2", "speaker": "Bo", "text": "Nice!"},
                ],
            }
        ],
        "questions": [{"question": "Where did Ana move?", "answer": "Porto", "evidence": ["t1"]}],
    }


def test_reads_a_bare_list_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps([_minimal()]))
    (h,) = read_histories(path)
    assert h.speakers == ("Ana", "Bo")
    assert h.questions[0].id == "h1:q0" and h.questions[0].kind == "single-hop"


def _error(tmp_path: Path, content: str) -> str:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CompressError) as exc:
        read_histories(path)
    assert str(path) in str(exc.value)
    return str(exc.value)


def test_bad_files_named_with_fix(tmp_path: Path) -> None:
    assert "not valid UTF-8 JSON" in _error(tmp_path, "{nope")
    bad = _minimal()
    del bad["sessions"][0]["turns"][1]["text"]
    msg = _error(tmp_path, json.dumps({"histories": [bad]}))
    assert "histories[0].sessions[0].turns[1].text" in msg and "add the field 'text'" in msg
    bad = _minimal()
    bad["questions"][0]["evidence"] = ["t9"]
    msg = _error(tmp_path, json.dumps([bad]))
    assert "histories[0].questions[0].evidence[0]" in msg and "'t9'" in msg and "no turn id" in msg
    bad = _minimal()
    bad["sessions"][0]["turns"][1]["id"] = "t1"
    assert "turn ids must be unique" in _error(tmp_path, json.dumps([bad]))
    bad = _minimal()
    bad["sessions"] = []
    assert "has no turns" in _error(tmp_path, json.dumps([bad]))
    bad = _minimal()
    bad["sessions"][0]["turns"][0]["text"] = 5
    assert "histories[0].sessions[0].turns[0].text" in _error(tmp_path, json.dumps([bad]))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="no such file"):
        read_histories(tmp_path / "absent.json")

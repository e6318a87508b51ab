"""Token counters: which tokenizer a model gets, and the provider counting APIs (against a local server
that speaks their request shapes; the real endpoints need keys and network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from compress.infra.errors import CompressError
from compress.infra.llm.cache import CallCache
from compress.infra.llm.tokens import CL100K, TokenCounter, count_cl100k, largest_prefix

FRAMING = 5


class CountServer:
    """Counts whitespace words + FRAMING per request, like a provider's counting endpoint would count
    tokens; answers 429 to the first request for a text that starts with 'busy'."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.refused = 0
        self.status: int | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if "messages" in body:
                    text, field = body["messages"][0]["content"], "input_tokens"
                else:
                    text, field = body["contents"][0]["parts"][0]["text"], "totalTokens"
                status = owner.status or 200
                if text.startswith("busy") and owner.refused == 0:
                    owner.refused += 1
                    status = 429
                payload = {field: len(text.split()) + FRAMING} if status == 200 else {"error": "no"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        """Texts counted so far, in request order."""
        out = []
        for r in self.requests:
            b = r["body"]
            out.append(
                b["messages"][0]["content"] if "messages" in b else b["contents"][0]["parts"][0]["text"]
            )
        return out


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountServer]:
    srv = CountServer()
    monkeypatch.setenv("ANTHROPIC_API_BASE", srv.url)
    monkeypatch.setenv("GEMINI_API_BASE", srv.url)
    yield srv
    srv.httpd.shutdown()


def test_anthropic_counts_by_the_api_without_framing_cached_and_retried(
    server: CountServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    calls = CallCache(tmp_path / "calls.sqlite")
    counter = TokenCounter("anthropic/claude-sonnet-4-5", tmp_path, calls=calls, max_retries=2)
    assert "anthropic token-counting API" in counter.name and f"{FRAMING} framing" in counter.name
    first = server.requests[0]
    assert first["path"] == "/v1/messages/count_tokens"
    assert first["headers"]["x-api-key"] == "sk-ant-test" and first["body"]["model"] == "claude-sonnet-4-5"

    texts = [f"word {i} " * (i + 1) for i in range(12)] + ["busy one two"]
    counter.prefetch([*texts, ""])  # the empty text is never sent
    assert "" not in server.texts()
    assert server.refused == 1  # the 429 was retried, not dropped
    assert [counter.count(t) for t in texts] == [len(t.split()) for t in texts]
    sent = len(server.requests)
    assert counter.count(texts[3]) == 8 and len(server.requests) == sent  # memo: no new call

    # another process with the same cache asks nothing again
    again = TokenCounter("anthropic/claude-sonnet-4-5", tmp_path, calls=CallCache(tmp_path / "calls.sqlite"))
    assert [again.count(t) for t in texts] == [len(t.split()) for t in texts]
    assert len(server.requests) == sent

    # truncation cuts on cl100k boundaries to the longest prefix that fits the API's count
    text = " ".join(f"w{i}" for i in range(200))
    cut = counter.truncate(text, 37)
    assert text.startswith(cut) and counter.count(cut) <= 37
    assert counter.count(text[: len(cut) + 5]) > 37  # no longer prefix on the next words fits
    assert counter.truncate("short text", 37) == "short text"


def test_gemini_request_shape(server: CountServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-test")
    counter = TokenCounter("gemini/gemini-2.5-flash", tmp_path)
    assert counter.count("one two three") == 3
    req = server.requests[-1]
    assert req["path"] == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert req["headers"]["x-goog-api-key"] == "g-test"


def test_api_errors_name_the_key_and_the_way_out(
    server: CountServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    counter = TokenCounter("anthropic/claude-sonnet-4-5", tmp_path)
    server.status = 401
    with pytest.raises(CompressError, match=r"HTTP 401.*ANTHROPIC_API_KEY.*count_api=false"):
        counter.count("a new text")
    server.status = 503
    counter.api.base_delay_s = 0.01  # type: ignore[union-attr]
    with pytest.raises(CompressError, match="failed 5 times"):
        counter.prefetch(["another text"])
    # a counter whose probe fails falls back to cl100k and says why
    fallback = TokenCounter("anthropic/claude-haiku-4-5", tmp_path, max_retries=0)
    assert (
        fallback.api is None and fallback.name.startswith(CL100K) and "counting API failed" in fallback.name
    )
    assert fallback.count("hello world") == count_cl100k("hello world")


def test_which_tokenizer_a_model_gets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_key = TokenCounter("anthropic/claude-sonnet-4-5", tmp_path)
    assert no_key.api is None and "ANTHROPIC_API_KEY not set" in no_key.name
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    off = TokenCounter("anthropic/claude-sonnet-4-5", tmp_path, count_api=False)
    assert off.api is None and "count_api=false" in off.name
    # a Hub repo id that is not in the (offline) cache: the proxy, named
    hub = TokenCounter("hosted_vllm/nobody-here/no-such-model", tmp_path)
    assert hub.name.startswith(CL100K) and "not in the Hugging Face cache" in hub.name
    assert TokenCounter("ollama/qwen3:8b", tmp_path).name.startswith(CL100K)


def testlargest_prefix_is_maximal_and_cheap() -> None:
    steps = [0]
    for i in range(1, 1001):
        steps.append(steps[-1] + (i % 3))  # a step cost with flat parts, like tokens of word prefixes
    probes: list[int] = []

    def cost(k: int) -> int:
        probes.append(k)
        return steps[k]

    for budget in (0, 1, 337, 998, 10_000):
        probes.clear()
        k = largest_prefix(1000, cost, budget)
        assert steps[k] <= budget and (k == 1000 or steps[k + 1] > budget)
        assert len(probes) <= 21

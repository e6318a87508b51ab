"""A real HTTP server on loopback that speaks the OpenAI chat-completions API (and Anthropic's
messages API on paths ending in /messages), for client tests.

It can answer with scripted failures (429, 500, 401; "slow" answers after `slow_s`, past a client's
timeout), stream (`"stream": true`: OpenAI's server-sent events, the answer a word per chunk), and
records what it saw (request bodies and Authorization headers). A 401 quotes the key it was sent, as
a careless provider might: a test of secret scrubbing can see whether a proxy passes it on.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ServerState:
    """Script and observations of the server."""

    failures: list[int | str] = field(
        default_factory=list
    )  # status codes ("slow", "malformed" too) to answer with, in order, before succeeding
    always: int | str | None = None  # answer every request with this status
    delay_s: float = 0.0
    replies: list[str] = field(default_factory=list)  # contents to answer with, in order, before echoing
    slow_s: float = 5.0
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def handle(self) -> None:
            # the client gave up first (a timeout under test): nothing to answer
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with state.lock:
                state.bodies.append(body)
                state.authorizations.append(self.headers.get("Authorization", ""))
                state.requests += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                status: int | str = state.always or (state.failures.pop(0) if state.failures else 200)
            try:
                time.sleep(state.slow_s if status == "slow" else state.delay_s)
                if status == "malformed":
                    data = b'{"id": "chatcmpl-broken", "choices": [{"mess'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if status == "slow":
                    status = 200
                anthropic = self.path.rstrip("/").endswith("/messages")
                payload: dict[str, Any]
                if status != 200 and anthropic:
                    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(
                        int(status), "api_error"
                    )
                    payload = {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}}
                elif status == 401:
                    key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    message = f"Incorrect API key provided: {key}."
                    payload = {"error": {"message": message, "type": "invalid_request_error", "code": 401}}
                elif status != 200:
                    payload = {"error": {"message": f"scripted {status}", "type": "test", "code": status}}
                elif anthropic:
                    last = body["messages"][-1]["content"]
                    last = last if isinstance(last, str) else last[0]["text"]
                    with state.lock:
                        content = state.replies.pop(0) if state.replies else f"echo: {last}"
                    payload = {
                        "id": "msg_test",
                        "type": "message",
                        "role": "assistant",
                        "model": body.get("model", "test"),
                        "content": [{"type": "text", "text": content}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 10, "output_tokens": 100},
                    }
                else:
                    last = body["messages"][-1]["content"]
                    with state.lock:
                        content = state.replies.pop(0) if state.replies else f"echo: {last}"
                    if body.get("stream"):
                        self._stream(body, content)
                        return
                    payload = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "test"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 100, "total_tokens": 110},
                    }
                data = json.dumps(payload).encode()
                self.send_response(int(status))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _stream(self, body: dict[str, Any], content: str) -> None:
            base = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "test"),
            }
            words = content.split(" ")
            deltas = [{"role": "assistant", "content": ""}] + [
                {"content": w if i == 0 else " " + w} for i, w in enumerate(words)
            ]
            chunks = [base | {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
            chunks.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {
                    "prompt_tokens": 10,
                    "completion_tokens": len(words),
                    "total_tokens": 10 + len(words),
                }
                chunks.append(base | {"choices": [], "usage": usage})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


class OpenAIServer:
    """Context manager: a loopback server on a free port; `base_url` ends in /v1."""

    def __init__(self, state: ServerState, port: int = 0) -> None:
        self.state = state
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    """`python -m tests.support.openai_server [--port N] [--delay S]`: serve until killed (benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    server = OpenAIServer(ServerState(delay_s=args.delay), port=args.port)
    print(server.base_url, flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main()

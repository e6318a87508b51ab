"""Reading a request body within its limits, and the one JSON error shape every route answers with.

Errors follow OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so an OpenAI SDK
pointed at the proxy shows the message; the message names the field at fault and the limit or fix.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from compress.infra.secrets import scrub


class HTTPProblem(Exception):
    """A request the server answers with an error: status, message, the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON answer (secrets scrubbed from the message: it may quote a provider's error)."""
        error = {"message": scrub(self.message), "type": self.kind, "param": self.param, "code": self.status}
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, read at most `limit` bytes far; an HTTPProblem naming what is wrong."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit, at_least=True)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise HTTPProblem(400, "request body: empty; send a JSON object.", param="body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPProblem(
            400,
            f"request body: not valid UTF-8 (byte {exc.start}: {exc.reason}); send JSON encoded as UTF-8.",
            param="body",
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPProblem(
            400,
            f"request body: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); send a JSON object.",
            param="body",
        ) from exc
    except RecursionError as exc:  # the parser recurses per level: a deep [[[...]]] exhausts the stack
        raise _too_deep() from exc
    if nesting_depth(data) > MAX_DEPTH:
        raise _too_deep()
    if not isinstance(data, dict):
        raise HTTPProblem(
            400, f"request body: a JSON object expected, got a JSON {type(data).__name__}.", param="body"
        )
    return data


# no field of any route nests deeper than a few levels; validation and scrubbing recurse per level too
MAX_DEPTH = 64


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in a parsed JSON value (a scalar: 0), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:  # deeper than the limit is refused anyway: stop looking
            stack += [(c, depth + 1) for c in children]
    return deepest


def _too_deep() -> HTTPProblem:
    return HTTPProblem(
        400,
        f"request body: JSON nested more than {MAX_DEPTH} levels deep; no field takes that, send the "
        "texts as strings in a flat object.",
        param="body",
    )


def _too_large(size: int, limit: int, at_least: bool = False) -> HTTPProblem:
    what = f"more than {limit}" if at_least else str(size)
    return HTTPProblem(
        413,
        f"request body: {what} bytes, over the server's limit of {limit} bytes (--max-body-bytes); "
        "send fewer or shorter texts per request, or start the server with a larger --max-body-bytes.",
        param="body",
    )


def validation_problem(exc: ValidationError, prefix: str = "") -> HTTPProblem:
    """A 422 naming every field at fault (dotted, list items by index) and what it must be."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + ".".join(str(p) for p in err["loc"]) or "body"
        msg = str(err["msg"])
        if err["type"].endswith("_type") and err["type"] != "missing":
            msg += f" (got {type(err['input']).__name__})"
        problems.append(f"{loc}: {msg}")
    first = exc.errors()[0]["loc"] if exc.errors() else ()
    return HTTPProblem(422, "; ".join(problems) + ".", param=prefix + ".".join(str(p) for p in first) or None)

"""The FastAPI application: /v1/compress, /v1/expand, /v1/chat/completions, /healthz, /readyz, /metrics.

The port answers as soon as uvicorn binds it; the compressor loads behind it (`host`). `/v1/expand`
gives back the exact text behind a marker (`[… N lines like "..." · id ID]`) of any earlier result of
this server, made by /v1/compress or by the proxy's compression alike (one compressor, one cache per
server; an id unknown or evicted is a 404). Metrics label requests by route (these paths, anything
else `other`). Every error
is a JSON body naming the field and the fix (`http.HTTPProblem`), an unexpected one a 500 without a
traceback; secrets are scrubbed from every answer. With `COMPRESS_API_KEY` set, every route but the
probes (/healthz, /readyz) wants `Authorization: Bearer <that key>`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from compress import __version__
from compress.infra.errors import CompressError
from compress.infra.secrets import scrub
from compress.serve.config import API_KEY_ENV, ServeSettings
from compress.serve.host import CompressorFailed, CompressorHost
from compress.serve.http import HTTPProblem, read_json, validation_problem
from compress.serve.metrics import CONTENT_TYPE, Metrics
from compress.serve.proxy import ROUTE as CHAT_ROUTE
from compress.serve.proxy import Proxy, headers
from compress.serve.schemas import CompressBody, ExpandBody

BodyT = TypeVar("BodyT", bound=BaseModel)

log = logging.getLogger("compress.serve")

COMPRESS_ROUTE = "/v1/compress"
EXPAND_ROUTE = "/v1/expand"
ROUTES = frozenset({COMPRESS_ROUTE, EXPAND_ROUTE, CHAT_ROUTE, "/healthz", "/readyz", "/metrics"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def route_of(path: str) -> str:
    """The metrics label of a path: one of the routes, else `other` (label values stay bounded)."""
    return path if path in ROUTES else "other"


class Observe:
    """ASGI middleware: requests by route, method and status, latency, requests in flight."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        route = route_of(scope["path"])

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        t0 = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observed)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - t0)


def create_app(settings: ServeSettings) -> FastAPI:
    """The application for `settings` (the compressor starts loading when the app starts)."""
    metrics = Metrics()
    host = CompressorHost(settings, metrics)
    proxy = Proxy(settings.config, host, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        host.start()
        warming = asyncio.get_running_loop().create_task(proxy.warm_up())
        yield
        warming.cancel()
        await host.close()

    app = FastAPI(
        title="compress",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.host, app.state.metrics = host, metrics
    app.add_middleware(Observe, metrics=metrics)

    def authorize(request: Request) -> None:
        key = settings.api_key
        if not key:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise HTTPProblem(
                401,
                f"authorization: missing or wrong bearer token; send `Authorization: Bearer <key>` with the "
                f"server's {API_KEY_ENV}.",
                param="authorization",
                kind="authentication_error",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        metrics.errors.labels(route_of(request.url.path), exc.kind).inc()
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
        message = (
            f"{request.method} {request.url.path}: no such route; the server answers POST {COMPRESS_ROUTE}, "
            f"POST {EXPAND_ROUTE}, POST {CHAT_ROUTE}, GET /healthz, GET /readyz, GET /metrics."
        )
        return await _problem(request, HTTPProblem(exc.status_code, message, kind=kind))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, scrub(str(exc))
        )
        problem = HTTPProblem(
            500,
            f"internal error ({type(exc).__name__}); the server logged it and keeps serving.",
            kind="internal_error",
        )
        return await _problem(request, problem)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: 200 once the compressor is loaded and the proxy's LiteLLM imported, else 503."""
        info = host.describe() | {"proxy": "ready" if proxy.warm else "loading"}
        ready = info["status"] == "ready" and proxy.warm
        return JSONResponse(info, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics_route(request: Request) -> Response:
        """Prometheus text exposition."""
        authorize(request)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def validated(request: Request, model: type[BodyT]) -> BodyT:
        """The request's JSON body as `model`, after the key check (4xx problems otherwise)."""
        authorize(request)
        data = await read_json(request, settings.max_body_bytes)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise validation_problem(exc) from exc

    @app.post(COMPRESS_ROUTE)
    async def compress_route(request: Request) -> JSONResponse:
        """Compress `text` (one result) or `texts` (a batch), as `LoadedCompressor.compress_many` does."""
        body = await validated(request, CompressBody)
        texts = body.checked_texts(settings.max_texts)
        if host.pending >= settings.max_pending:
            raise HTTPProblem(
                503,
                f"server busy: {host.pending} batches wait for the compressor (--max-pending {settings.max_pending}); retry shortly.",
                kind="busy",
                headers={"Retry-After": "1"},
            )
        outcome = await host.compress_failing_open(texts, body.options(), COMPRESS_ROUTE)
        results = outcome.results
        statuses = {r["status"] for r in results}
        hdrs = {"x-compress-status": "compressed" if "compressed" in statuses else "passthrough"}
        if outcome.reason:
            hdrs["x-compress-reason"] = outcome.reason
        if body.text is not None:
            return JSONResponse(results[0], headers=hdrs)
        return JSONResponse(
            {
                "results": results,
                "tokens_before": sum(r["tokens_before"] for r in results),
                "tokens_after": sum(r["tokens_after"] for r in results),
            },
            headers=hdrs,
        )

    @app.post(EXPAND_ROUTE)
    async def expand_route(request: Request) -> JSONResponse:
        """The exact text behind a marker id of an earlier result: `{"id", "text"}`; 404 when the id is
        unknown or was evicted from the compressor's bounded cache (or its worker restarted)."""
        body = await validated(request, ExpandBody)
        marker_id = body.checked_id()
        try:
            text = await host.expand(marker_id)
        except CompressError as exc:
            raise HTTPProblem(
                404,
                f"id: {exc} Ids live in the server's memory, a bounded number of the latest, until it "
                "restarts; compress the original again to get a fresh one.",
                param="id",
                kind="not_found",
            ) from exc
        except CompressorFailed as exc:
            raise HTTPProblem(
                503, f"the compressor failed ({exc}); retry shortly.", kind="compressor_error"
            ) from exc
        return JSONResponse({"id": marker_id, "text": text})

    @app.post(CHAT_ROUTE)
    async def chat_completions(request: Request) -> Response:
        """OpenAI chat completions: compress the selected messages, forward, answer (or stream)."""
        authorize(request)
        data = await read_json(request, settings.max_body_bytes)
        body, messages, info = await proxy.prepare(data)
        resp, provider = await proxy.call(body, messages)
        hdrs = headers(info)
        if body.stream:
            return StreamingResponse(
                proxy.stream(resp, provider, info),
                media_type="text/event-stream",
                headers=hdrs | {"cache-control": "no-cache"},
            )
        payload = resp.model_dump(exclude_none=True) | {"compress": info}
        return Response(scrub(json.dumps(payload)), media_type="application/json", headers=hdrs)

    return app

"""The compressor behind the server: loaded in the background, called one batch at a time, fail-open.

By default it lives in a worker process (`worker="process"`, `python -m compress.serve.worker`,
JSON lines over its stdin/stdout): a model load or a long generation holds that process's CPU and
GIL, never the event loop, the server itself never imports the library or a model (it answers
about a second after it starts), and a worker that dies (a crash in native code, the OOM killer) is
counted, started again and reloaded while the server passes texts through. `worker="thread"` keeps
the compressor in the server's own process instead (less overhead per call, no isolation).

Until the compressor is loaded the host passes every text through unchanged (`status: passthrough`),
counting tokens with cl100k (bundled, instant to load) and saying so in `tokenizer`.

One compressor is loaded per host (per worker process), once, and every request of the process's
life goes to it: whatever it caches per unit or per text (selfinfo's scores, a selector's) is reused
across requests; no request loads or builds a compressor of its own. After loading, the host asks the
compressor once whether it compresses several texts under one budget (`joint`, see `compress_many`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import compress
from compress.algorithms.data.domains import classify
from compress.algorithms.structured import route as shape_of
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import CL100K, count_cl100k
from compress.serve.config import ServeSettings
from compress.serve.http import HTTPProblem
from compress.serve.metrics import Metrics

log = logging.getLogger("compress.serve")

State = Literal["loading", "ready", "failed"]
WORKER_MODULE = "compress.serve.worker"
# a CompressResult's fields (compressed, tokens_before, tokens_after, tokenizer, domain, seconds, status,
# ids: the ids of the `[… N lines like "..." · id ID]` markers in `compressed`, for `expand`)
Result = dict[str, Any]


class CompressorFailed(Exception):
    """The compressor raised (not for the caller's input) or its worker died; the text was not compressed."""


class WorkerDied(CompressorFailed):
    """The worker process ended while it was loading or compressing."""


def _unpack(answer: dict[str, Any]) -> Any:
    """A worker's answer: its value, or the failure raised (CompressError: the caller's input)."""
    if answer.get("ok"):
        return answer.get("value")
    if answer.get("error") == "CompressError":
        raise CompressError(str(answer.get("message")))
    raise CompressorFailed(f"{answer.get('error')}: {answer.get('message')}")


class _Worker(Protocol):
    pid: int

    def call(self, op: str, *args: Any) -> Any: ...

    def stop(self, timeout_s: float) -> None: ...


class ProcessWorker:
    """The compressor in a child process (`python -m compress.serve.worker`), one call at a time."""

    def __init__(self) -> None:
        env = dict(os.environ)
        # the child imports the same `compress` as this process, wherever the caller put it on the path
        root = str(Path(compress.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self.pid = self._proc.pid
        self._lock = threading.Lock()

    def call(self, op: str, *args: Any) -> Any:
        """Run `op` in the worker; its result, or the failure it reported (WorkerDied if it died)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            try:
                self._proc.stdin.write(json.dumps({"op": op, "args": list(args)}).encode() + b"\n")
                self._proc.stdin.flush()
                line = self._proc.stdout.readline()
            except OSError:
                line = b""
            if not line:
                code = self._proc.wait(5)
                raise WorkerDied(f"the compressor worker (pid {self.pid}) died (exit code {code})")
        return _unpack(json.loads(line))

    def stop(self, timeout_s: float) -> None:
        """Ask the worker to free the model and exit; terminate it if it does not within `timeout_s`."""
        try:
            if self._proc.poll() is None and self._proc.stdin is not None:
                self._proc.stdin.write(b'{"op": "stop"}\n')
                self._proc.stdin.close()
            self._proc.wait(timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.terminate()
            try:
                self._proc.wait(2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(2)


class ThreadWorker:
    """The compressor in the server's own process (calls run on the host's one executor thread)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        # imported only when asked for: a server with a worker process never loads the library itself
        self._handler = importlib.import_module(WORKER_MODULE).Handler()

    def call(self, op: str, *args: Any) -> Any:
        """Run `op` here."""
        return _unpack(self._handler.answer(op, list(args)))

    def stop(self, timeout_s: float) -> None:
        """Free the model."""
        self._handler.close()


@dataclass
class Outcome:
    """What the host did with a batch: the results, and why it passed them through when it did."""

    results: list[Result]
    reason: str | None = None  # loading | failed (still passthrough) | None (the compressor ran)
    error: str | None = None

    def record(self, metrics: Metrics, route: str) -> None:
        """Count the batch's texts, tokens and passthroughs (by reason) in `metrics`."""
        for r in self.results:
            metrics.texts.labels(route, r["status"]).inc()
            metrics.tokens_in.labels(route).inc(r["tokens_before"])
            metrics.tokens_out.labels(route).inc(r["tokens_after"])
            if r["status"] == "passthrough":
                metrics.passthroughs.labels(route, self.reason or "compressor").inc()


@dataclass
class CompressorHost:
    """The compressor, its state (loading -> ready, or failed) and the one thread that talks to it."""

    settings: ServeSettings
    metrics: Metrics
    state: State = "loading"
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    load_seconds: float | None = None
    pending: int = 0
    _worker: _Worker | None = None
    _executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="compressor")
    )
    _task: asyncio.Task[None] | None = None
    _started: float = field(default_factory=time.monotonic)
    _closing: bool = False
    # called when the compressor cannot load for a reason no retry fixes (a misspelt name, a bad dir)
    on_fatal: Any = None
    fatal: bool = False
    # whether the loaded compressor takes `joint=True` (None: not known yet, while loading or failed)
    joint: bool | None = None

    def start(self) -> None:
        """Start loading in the background (returns at once)."""
        self._task = asyncio.get_running_loop().create_task(self._load())

    async def _load(self) -> None:
        self.state, self.error, self._started = "loading", None, time.monotonic()
        self.joint = None
        self.metrics.ready.set(0)
        s = self.settings
        old, self._worker = self._worker, None
        try:
            if old is not None:  # a worker that died: reap it
                await self._run(old.stop, 1.0)
            self._worker = await self._run(ProcessWorker if s.worker == "process" else ThreadWorker)
            self.info = await self._run(
                self._worker.call,
                "load",
                s.spec,
                s.engine,
                s.device,
                str(s.cache_dir) if s.cache_dir else None,
            )
        except Exception as exc:
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.error("compressor %s failed to load: %s", s.spec, self.error)
            if isinstance(exc, CompressError):
                self.fatal = True
                if self.on_fatal is not None:
                    self.on_fatal()
            return
        self.joint = await self._joint_capable(self._worker)
        self.load_seconds = time.monotonic() - self._started
        self.state = "ready"
        self.metrics.ready.set(1)
        log.info("compressor %s ready in %.1f s (%s)", self.info.get("name"), self.load_seconds, s.worker)

    async def _joint_capable(self, worker: _Worker) -> bool:
        """Whether the compressor takes several texts under one budget: asked with two empty texts (the
        library checks the capability first, then passes empty texts through without compressing)."""
        try:
            await self._run(worker.call, "compress", ["", ""], {"rate": 0.5, "joint": True})
        except CompressError:
            return False
        except Exception as exc:  # a compressor that fails on this fails on joint requests too
            log.warning("compressor %s: joint compression not available (%s)", self.info.get("name"), exc)
            return False
        return True

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def wait_loaded(self, timeout_s: float) -> None:
        """Wait at most `timeout_s` for the load in progress to end (ready or failed); a caller that
        would rather wait for the compressor than have its first texts passed through calls this."""
        if self._task is not None and not self._task.done():
            # shielded: a caller that stops waiting must not cancel the load itself
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)

    def loading_seconds(self) -> float:
        """Seconds since the current load began."""
        return time.monotonic() - self._started

    async def compress(self, texts: Sequence[str], options: dict[str, Any]) -> Outcome:
        """Compress `texts` with `options` (rate, target_tokens, query, domain, force_tokens).

        While loading (or after a failed load): every text unchanged. The caller's bad input raises
        CompressError; a compressor that raises or dies raises CompressorFailed (the worker restarts)."""
        if self.state != "ready" or self._worker is None:
            return Outcome(passthrough(texts, options.get("domain")), self.state, self.error)
        self.pending += 1
        try:
            results: list[Result] = await self._call(self._worker, "compress", list(texts), options)
        finally:
            self.pending -= 1
        self.metrics.compress_seconds.observe(sum(r["seconds"] for r in results))
        return Outcome(results)

    async def expand(self, marker_id: str) -> str:
        """The exact text a marker of an earlier result stands for (`[… N lines like "..." · id ID]`),
        from the compressor's bounded cache in its worker. CompressError when the id is unknown or was
        evicted (also: the compressor is loading, or its worker restarted, which empties the cache);
        CompressorFailed when the compressor fails (the worker restarts)."""
        if self.state != "ready" or self._worker is None:
            raise CompressError(
                f"id {marker_id!r}: unknown; the compressor is {self.state}, and markers made before a "
                "load or a restart are gone with the old worker. Send the original text again instead."
            )
        return str(await self._call(self._worker, "expand", marker_id))

    async def _call(self, worker: _Worker, op: str, *args: Any) -> Any:
        """`op` in the worker: CompressError (the caller's input) as it came; a dead worker counted and
        started again; any other failure as CompressorFailed."""
        try:
            return await self._run(worker.call, op, *args)
        except CompressError:
            raise
        except WorkerDied as exc:
            self.metrics.compressor_failures.inc()
            if not self._closing and self.state == "ready":
                self.metrics.worker_restarts.inc()
                log.error("%s; starting a new worker", exc)
                self.start()
            raise
        except Exception as exc:
            self.metrics.compressor_failures.inc()
            log.error("compressor %s failed (%s): %s", self.info.get("name"), op, exc)
            if isinstance(exc, CompressorFailed):
                raise
            raise CompressorFailed(f"{type(exc).__name__}: {exc}") from exc

    async def compress_failing_open(
        self, texts: Sequence[str], options: dict[str, Any], route: str, param: str | None = None
    ) -> Outcome:
        """`compress` with the server's one fail-open rule, counted in the metrics under `route`: a
        compressor that fails passes the texts through unchanged (reason `compressor_error`), or, with
        `fail_closed`, the caller gets a 503; the caller's bad input is a 422 (naming `param`)."""
        try:
            outcome = await self.compress(texts, options)
        except CompressError as exc:
            raise HTTPProblem(422, f"{param}: {exc}" if param else str(exc), param=param) from exc
        except CompressorFailed as exc:
            if self.settings.config.fail_closed:
                raise HTTPProblem(
                    503,
                    f"the compressor failed ({exc}) and the server is fail_closed: nothing was compressed "
                    "or forwarded.",
                    kind="compressor_error",
                ) from exc
            outcome = Outcome(passthrough(texts, options.get("domain")), "compressor_error", str(exc))
        outcome.record(self.metrics, route)
        return outcome

    async def close(self, timeout_s: float = 10.0) -> None:
        """Stop the worker (after the calls in flight) and the executor."""
        self._closing = True
        worker = self._worker
        if worker is not None:
            # a worker still loading has nothing to finish: stop it now
            wait = timeout_s if self.state == "ready" else 0.5
            await asyncio.get_running_loop().run_in_executor(None, worker.stop, wait)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def describe(self) -> dict[str, Any]:
        """The state for /readyz: loading / ready / failed, the compressor, load time, worker."""
        out: dict[str, Any] = {
            "status": self.state,
            "spec": self.settings.spec,
            "worker": self.settings.worker,
        }
        if self.state == "loading":
            out["loading_s"] = round(self.loading_seconds(), 3)
        if self.error:
            out["error"] = self.error
        if self.info:
            out["compressor"] = {k: self.info[k] for k in ("name", "kind", "tokenizer", "domains")}
            # which package version answers (null for a run dir or a baseline)
            out["compressor"]["version"] = (self.info.get("manifest") or {}).get("version")
            out["worker_pid"] = self.info.get("pid")
        if self.load_seconds is not None:
            out["load_s"] = round(self.load_seconds, 3)
        return out


def passthrough(texts: Sequence[str], domain: str | None = None) -> list[Result]:
    """Every text unchanged (tokens by cl100k, named; the domain it would have been routed to, by the
    same rules as the library: a tool output's shape first), for when the compressor cannot run."""
    return [
        {
            "compressed": t,
            "tokens_before": (n := count_cl100k(t)),
            "tokens_after": n,
            "tokenizer": CL100K,
            "domain": domain or shape_of(t) or classify(t),
            "seconds": 0.0,
            "status": "passthrough",
            "ids": [],
        }
        for t in texts
    ]

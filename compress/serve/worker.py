"""Where the server's compressor lives: `python -m compress.serve.worker`, spoken to in JSON lines.

The server starts this as a child process and writes one request per line on its stdin,
`{"op": "load" | "compress" | "expand" | "stop", "args": [...]}`; it answers each on its stdout,
`{"ok": true, "value": ...}` or `{"ok": false, "error": "CompressError" | "...", "message": "..."}`.
Results are plain JSON (a `CompressResult`'s fields), so the server never imports the library,
torch or a model: it starts in about a second. Anything else a library prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

from compress.infra.errors import CompressError
from compress.library.load import LoadedCompressor, load_compressor

# compressed once at load: a compressor that loads its model on first use (selfinfo) pays for it
# before the server says ready, not on a caller's request
WARM_UP = (
    "The harbour opens at six. Boats leave on the morning tide and come back before dark; "
    "the harbour master keeps a log of every boat, its crew and its catch."
)


class Handler:
    """The operations a server asks of its compressor: load, compress, expand, close."""

    def __init__(self) -> None:
        self.loaded: LoadedCompressor | None = None

    def load(self, spec: str, engine: str, device: str, cache_dir: str | None) -> dict[str, Any]:
        """Load the compressor and compress one text (so the first caller waits for no lazy load); its
        name, kind, tokenizer, domains, manifest and this process's id."""
        self.loaded = load_compressor(
            spec, engine=engine, device=device, cache_dir=Path(cache_dir) if cache_dir else None
        )
        self.loaded.compress(WARM_UP, rate=0.5)
        return {
            "name": self.loaded.name,
            "kind": self.loaded.kind,
            "tokenizer": self.loaded.tokenizer,
            "domains": self.loaded.domains,
            "manifest": json.loads(json.dumps(self.loaded.manifest, default=str)),
            "pid": os.getpid(),
        }

    def compress(self, texts: list[str], options: dict[str, Any]) -> list[dict[str, Any]]:
        """`compress_many` of the loaded compressor, each result as a dict."""
        if self.loaded is None:
            raise RuntimeError("the compressor is not loaded")
        opts = dict(options)
        opts["force_tokens"] = tuple(opts.get("force_tokens") or ())
        return [r.model_dump() for r in self.loaded.compress_many(texts, **opts)]

    def expand(self, marker_id: str) -> str:
        """The exact text a marker of an earlier result of this process stands for (CompressError when
        the id is unknown or was evicted from the compressor's bounded cache)."""
        if self.loaded is None:
            raise CompressError(
                f"id {marker_id!r}: unknown; the compressor is not loaded, it made no markers yet."
            )
        return self.loaded.expand(marker_id)

    def close(self) -> None:
        """Free the model."""
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = None

    def answer(self, op: str, args: list[Any]) -> dict[str, Any]:
        """Run one operation; its JSON answer (a failure as its type name and message, never a traceback)."""
        try:
            if op not in ("load", "compress", "expand", "close"):
                raise ValueError(f"unknown operation {op!r}")
            return {"ok": True, "value": getattr(self, op)(*args)}
        except CompressError as exc:
            return {"ok": False, "error": "CompressError", "message": str(exc)}
        except Exception as exc:
            return {"ok": False, "error": type(exc).__name__, "message": str(exc)}


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests from `inp` on `out` until `stop` or end of input (the server went away)."""
    handler = Handler()
    try:
        for line in inp:
            request = json.loads(line)
            if request["op"] == "stop":
                break
            out.write(json.dumps(handler.answer(request["op"], request.get("args", []))).encode() + b"\n")
            out.flush()
    finally:
        handler.close()


def main() -> int:
    """The worker process: the protocol on the original stdout, everything printed sent to stderr."""
    # Ctrl-C in a terminal reaches the whole process group: the server decides when the worker stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C libraries printing to fd 1 land in stderr
    serve(sys.stdin.buffer, out)
    out.close()
    # the model is freed; skip the interpreter's teardown (joining libraries' threads took seconds)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

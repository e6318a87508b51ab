"""`python -m compress.serve` as a real process on a free loopback port, for the server's tests and
the load benchmark: start it, wait for it, talk to it, read its log, stop it with a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """One `python -m compress.serve SPEC ...` process; its log goes to `log_path`."""

    def __init__(
        self,
        spec: str,
        log_path: Path,
        *args: str,
        env: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.api_key = api_key
        full_env = dict(os.environ) | (env or {})
        full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        if api_key:
            full_env["COMPRESS_API_KEY"] = api_key
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "compress.serve", spec, "--port", str(self.port), *args],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=120, headers=self.auth())

    def auth(self) -> dict[str, str]:
        """The Authorization header the server wants (none without an API key)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def wait_up(self, timeout_s: float = 60) -> float:
        """Wait until /healthz answers; the seconds it took since the process started."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - t0
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"server not up after {timeout_s} s:\n{self.log()[-3000:]}")

    def wait_ready(self, timeout_s: float = 240) -> dict[str, Any]:
        """Wait until the port answers, then until /readyz says ready; its body."""
        t0 = time.monotonic()
        self.wait_up(timeout_s)
        while time.monotonic() - t0 < timeout_s:
            r = httpx.get(f"{self.url}/readyz", timeout=5)
            body: dict[str, Any] = r.json()
            if r.status_code == 200:
                return body
            if body.get("status") == "failed":
                raise AssertionError(f"compressor failed to load: {body}\n{self.log()[-3000:]}")
            time.sleep(0.25)
        raise AssertionError(f"compressor not ready after {timeout_s} s:\n{self.log()[-3000:]}")

    def metrics(self) -> dict[str, float]:
        """/metrics as {'name{labels}': value} (samples only, comments dropped)."""
        text = self.client.get("/metrics").text
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def log(self) -> str:
        """Everything the server wrote so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int:
        """Send `sig`, wait for the exit; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.client.close()
            self._log.close()
        return code

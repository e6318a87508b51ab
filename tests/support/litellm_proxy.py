"""LiteLLM's proxy (`python -m litellm.proxy.proxy_cli --config ...`) as a real process on a free
loopback port, with compress's hook as its callback, in front of a loopback provider: for the LiteLLM
integration's tests and benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.serve import ROOT, free_port

HOOK = "compress.integrations.litellm.proxy_handler_instance"
MASTER_KEY = "sk-litellm-master-test-4d2a"
PROVIDER_KEY = "sk-provider-key-never-leaves-8c1e"


def write_config(path: Path, api_base: str, hook: bool = True, model: str = "fake") -> Path:
    """A proxy config.yaml: one model `model` served by the OpenAI-compatible `api_base`, the compress
    hook as the callback (unless `hook` is False), a master key."""
    cfg: dict[str, Any] = {
        "model_list": [
            {
                "model_name": model,
                "litellm_params": {"model": f"openai/{model}", "api_base": api_base, "api_key": PROVIDER_KEY},
            }
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    if hook:
        cfg["litellm_settings"] = {"callbacks": HOOK}
    path.write_text(yaml.safe_dump(cfg))
    return path


class LiteLLMProxy:
    """One LiteLLM proxy process; `env` adds to (or, with None values, removes from) the environment."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str | None] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full = dict(os.environ)
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        # the hook's module from this checkout; LiteLLM's cost map from its bundled copy (no network)
        full["PYTHONPATH"] = str(ROOT) + os.pathsep + full.get("PYTHONPATH", "")
        full.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self._log = log_path.open("wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "litellm.proxy.proxy_cli",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=config.parent,
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_up(self, timeout_s: float = 120) -> float:
        """Wait until /health/liveliness answers; the seconds since the process started."""
        while time.monotonic() - self.t0 < timeout_s:
            if self.proc.poll() is not None:
                raise AssertionError(f"litellm exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/liveliness", timeout=1).status_code == 200:
                    return time.monotonic() - self.t0
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"litellm not up after {timeout_s} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        """Everything the proxy wrote so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

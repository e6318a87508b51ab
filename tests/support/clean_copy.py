"""A clean copy of this checkout, as a fresh clone would be after `scripts/setup.sh`: what git sees (tracked
files, and untracked ones it does not ignore) copied to a new dir, the checkout's `.venv` linked in.
Commands run there as a new user types them: its working dir is the copy, so outputs/ and every
relative path land in it, and `python -m compress...` imports the copy's package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import CACHE, ROOT


def clean_copy(dest: Path) -> Path:
    """This checkout's files as git sees them, in `dest` (made), with `.venv` linked from the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a user's shell has after `. .venv/bin/activate`: the venv's bin first on PATH,
    the shared model cache, W&B kept offline in the run dir, no provider keys."""
    env = dict(os.environ) | {"COMPRESS_CACHE": str(CACHE), "HF_HUB_OFFLINE": "1"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)  # the copy's own package, not the checkout's
    return env | (extra or {})


def run_in(
    copy: Path, command: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` run by bash in `copy`, as typed at a prompt there."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=copy,
        env=user_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )

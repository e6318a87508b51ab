"""Opening a page in headless Chromium over the DevTools protocol: JS errors, failed loads and the DOM.

`load_in_chromium` drives Debian's chromium over the DevTools protocol (`--remote-debugging-pipe`, no
extra package): it records JS exceptions, console errors, log errors and failed loads, waits for the
load event and reads the DOM back (tables, and each image's decoded size).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# what the page reports about itself once loaded: every table's header and size, every image decoded
DOM_PROBE = """
(async () => {
  const images = await Promise.all([...document.images].map(async (img) => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    return {alt: img.alt, decoded, width: img.naturalWidth, height: img.naturalHeight};
  }));
  const tables = [...document.querySelectorAll("table")].map((t) => ({
    heading: t.previousElementSibling ? t.previousElementSibling.textContent : null,
    header: [...t.querySelectorAll("thead th")].map((th) => th.textContent),
    rows: t.querySelectorAll("tbody tr").length,
    text: t.innerText,
  }));
  const headings = [...document.querySelectorAll("h1, h2")].map((h) => h.textContent);
  return {title: document.title, headings, tables, images};
})()
"""


def chromium_binary() -> str:
    """The Chromium executable; fails (not skips) when missing: scripts/setup.sh installs it."""
    if explicit := os.environ.get("CHROMIUM"):
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    for app in ("Chromium.app/Contents/MacOS/Chromium", "Google Chrome.app/Contents/MacOS/Google Chrome"):
        if (app_path := Path("/Applications") / app).is_file():  # macOS installs apps off PATH
            return str(app_path)
    pytest.fail(
        "chromium is not installed: the report's HTML is checked in a headless browser. Run "
        "scripts/setup.sh (as root on Debian/Ubuntu it runs `apt-get install -y chromium`), or install "
        "Chromium / Google Chrome so that `chromium` is on PATH (or set CHROMIUM=/path/to/it)."
    )


@dataclass
class PageCheck:
    """What a page did in the browser: its DOM probe and every error seen while loading it."""

    dom: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    stderr: str = ""


class _Pipe:
    """A DevTools protocol session over Chromium's --remote-debugging-pipe (NUL-terminated JSON)."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.proc, self.wfd, self.rfd = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.rfd], [], [], left)
            if ready:
                chunk = os.read(self.rfd, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"chromium closed the DevTools pipe (exit code {self.proc.poll()})")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Send a command and wait for its answer, keeping the events that arrive meanwhile."""
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        """The first event named `method` (already received or still to come)."""
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append(f"JS exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(
                "console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
            )
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(
                f"log error ({p['entry']['source']}): {p['entry']['text']} {p['entry'].get('url', '')}"
            )
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"failed load: {p.get('errorText')} ({p.get('type')})")
        elif method == "Network.responseReceived" and p["response"].get("status", 0) >= 400:
            out.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
    return out


def _above_9(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def load_in_chromium(page: Path, timeout: float = 60) -> PageCheck:
    """Open `page` in headless Chromium; return its DOM probe and every error it raised."""
    binary = chromium_binary()
    profile = page.parent / ".chromium-profile"
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # the protocol pipe must be fds 3 (commands in) and 4 (answers out) in the browser: bash places them,
    # from fds above 9 so that a pipe end which happens to be fd 3 or 4 here is not closed on the way
    to_browser_r, from_browser_w = (_above_9(fd) for fd in (to_browser_r, from_browser_w))
    cmd = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
    args = [
        binary,
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--remote-debugging-pipe",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    # stderr to a file: a pipe nobody reads while the protocol runs could fill and stall the browser
    log = page.parent / ".chromium-stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            ["bash", "-c", cmd, *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    os.close(to_browser_r)
    os.close(from_browser_w)
    cdp = _Pipe(proc, to_browser_w, from_browser_r)
    failure: Exception | None = None
    dom: dict[str, Any] = {}
    try:
        target = cdp.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
        session = cdp.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, timeout=timeout
        )["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            cdp.call(f"{domain}.enable", session=session, timeout=timeout)
        nav = cdp.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session, timeout=timeout)
        if nav.get("errorText"):
            raise RuntimeError(f"chromium could not open {page}: {nav['errorText']}")
        cdp.wait_for("Page.loadEventFired", timeout=timeout)
        probe = cdp.call(
            "Runtime.evaluate",
            {"expression": DOM_PROBE, "awaitPromise": True, "returnByValue": True},
            session=session,
            timeout=timeout,
        )
        if "exceptionDetails" in probe:
            raise RuntimeError(f"the DOM probe failed: {probe['exceptionDetails']}")
        dom = probe["result"]["value"]
        # the browser may close the pipe before it answers
        with contextlib.suppress(RuntimeError, TimeoutError):
            cdp.call("Browser.close", timeout=10)
    except (RuntimeError, TimeoutError, OSError) as e:
        failure = e
    finally:
        os.close(to_browser_w)
        os.close(from_browser_r)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    stderr = log.read_text(errors="replace")
    log.unlink()
    if failure is not None:
        raise AssertionError(
            f"headless chromium failed on {page}: {failure}\nchromium stderr:\n{stderr[-3000:]}"
        )
    return PageCheck(dom=dom, errors=_errors(cdp.events), stderr=stderr)


def assert_clean(check: PageCheck) -> None:
    """No error while loading, and every image decoded to a non-empty picture."""
    assert not check.errors, "the page raised errors in chromium:\n" + "\n".join(check.errors)
    bad = [i for i in check.dom["images"] if not (i["decoded"] and i["width"] > 0 and i["height"] > 0)]
    assert not bad, f"images that did not decode: {bad}"

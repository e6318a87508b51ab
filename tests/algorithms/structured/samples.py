"""Tool outputs and ordinary texts shared by the structured tests: each one a realistic shape."""

from __future__ import annotations

import json
import re

PROSE = (
    "The observatory on the northern ridge was finished in 1931 after nine years of work. Its main\n"
    "telescope, a 72-inch reflector ground by hand in Pittsburgh, was the largest in the country for a\n"
    "decade. Astronomers there measured the distances to forty nearby galaxies and catalogued more than\n"
    "twelve thousand variable stars before the dome was closed to research in 1989.\n"
    "ERROR handling was not their concern; the INFO desk closed at five.\n"
)
CODE = '''import logging
from pathlib import Path

LEVELS = {"ERROR": 40, "INFO": 20}
log = logging.getLogger(__name__)


def read(path: Path) -> str:
    """The text of a file, logged."""
    log.info("reading %s", path)
    if not path.exists():
        raise FileNotFoundError(path)
    return path.read_text()
'''
CHAT = (
    "Ana: did the deploy go out?\n"
    "Ben: yes, at 10:03, but worker-2 complained about the disk\n"
    "Ana: full again? I cleaned /var/data last week\n"
    "Ben: I'll look after lunch\n"
    "Ana: thanks\n"
)
TIMED_CHAT = "[10:02:11] Ana: morning\n[10:02:40] Ben: morning!\n[10:03:05] Ana: coffee?\n"
MARKDOWN = "# Notes\n\n- buy milk\n- call Ben\n\nSee [1] for more.\n"

PYTEST = """============================= test session starts ==============================
platform linux -- Python 3.11.9, pytest-8.3.2, pluggy-1.5.0
rootdir: /work/main
collected 5 items

tests/test_a.py ..F.s                                                    [100%]

=================================== FAILURES ===================================
_________________________________ test_total ___________________________________

    def test_total():
>       assert total([1, 2]) == 4
E       assert 3 == 4
E        +  where 3 = total([1, 2])

tests/test_a.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_a.py::test_total - assert 3 == 4
==================== 1 failed, 3 passed, 1 skipped in 0.12s ====================
"""
PIP = """Collecting requests
  Using cached requests-2.32.3-py3-none-any.whl (64 kB)
Requirement already satisfied: idna<4,>=2.5 in ./.venv/lib/python3.11/site-packages (from requests) (3.7)
Requirement already satisfied: urllib3<3,>=1.21.1 in ./.venv/lib/python3.11/site-packages (from requests) (2.2.2)
Requirement already satisfied: certifi>=2017.4.17 in ./.venv/lib/python3.11/site-packages (from requests) (2024.7.4)
Installing collected packages: requests
Successfully installed requests-2.32.3
"""
TRACEBACK = """2026-12-06 10:03:10 INFO server starting
2026-12-06 10:03:11 INFO loading config from /etc/app.toml
Traceback (most recent call last):
  File "/app/main.py", line 12, in <module>
    main()
  File "/app/main.py", line 8, in main
    cfg = load(path)
ValueError: bad config key 'port'
2026-12-06 10:03:12 INFO shutting down
"""
COMPILER = """src/main.c:12:5: error: use of undeclared identifier 'x'
    x = 3;
    ^
src/main.c:20:1: warning: control reaches end of non-void function
1 error generated.
make: *** [Makefile:4: main] Error 1
"""
GIT_LOG = """commit 3f9a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c
Author: Ana <ana@example.com>
Date:   Sat Dec 6 10:00:00 2026 +0100

    fix: the parser keeps the last line

 compress/parse.py | 4 ++--
 1 file changed, 2 insertions(+), 2 deletions(-)

commit 0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293
Author: Ben <ben@example.com>
Date:   Fri Dec 5 09:00:00 2026 +0100

    docs: the README's first command
"""
FIND = "\n".join(
    [
        "./compress/__init__.py",
        "./compress/cli.py",
        "./compress/run.py",
        "./compress/library/__init__.py",
        "./compress/library/load.py",
        "./tests/test_cli.py",
        "./README.md",
    ]
)
LS_LA = """total 24
drwxr-xr-x  5 ana  staff   160 Dec  6 10:00 .
drwxr-xr-x 12 ana  staff   384 Dec  6 09:58 ..
-rw-r--r--  1 ana  staff  1024 Dec  6 10:00 README.md
drwxr-xr-x  4 ana  staff   128 Dec  6 10:00 compress
-rw-r--r--  1 ana  staff   512 Dec  6 10:00 pyproject.toml
"""
GREP = """compress/library/load.py:12:def load_compressor(
compress/library/load.py:40:    return load_compressor(spec)
compress/serve/host.py:7:from compress import load_compressor
README.md:88:c = load_compressor("truncate")
"""
ONELINE = "3f9a2b1 fix: the parser\n0c1d2e3 docs: README\n9a8b7c6 feat: tool outputs\n1a2b3c4 test: more\n"
PIP_LIST = """Package            Version   Location                                   Installer
------------------ --------- ------------------------------------------ ---------
numpy              1.26.4    /work/main/.venv/lib/python3.11/site-packages pip
pandas             2.2.2     /work/main/.venv/lib/python3.11/site-packages pip
requests           2.32.3    /work/main/.venv/lib/python3.11/site-packages pip
"""
PACKAGES = [{"name": f"package-{i}", "version": f"{i % 7}.{i % 11}.{i}"} for i in range(60)]
JSON_ARRAY = json.dumps(PACKAGES, indent=2)
JSONL = "\n".join(
    json.dumps({"ts": f"10:00:{i:02d}", "level": "info", "msg": f"tick {i}"}) for i in range(20)
)

NOT_TOOL_OUTPUTS = {
    "prose": PROSE,
    "code": CODE,
    "chat": CHAT,
    "timed chat": TIMED_CHAT,
    "markdown": MARKDOWN,
}
LOGS = {"pytest": PYTEST, "pip": PIP, "traceback": TRACEBACK, "compiler": COMPILER, "git log": GIT_LOG}
LISTINGS = {
    "find": FIND,
    "ls -la": LS_LA,
    "grep -n": GREP,
    "git log --oneline": ONELINE,
    "pip list": PIP_LIST,
}


def heartbeat_log(n: int = 300, error_at: int = 150) -> str:
    """`n` lines: heartbeats of 4 workers (timestamps and seq numbers vary), one error line in the middle."""
    lines = []
    for i in range(n - 1):
        if i == error_at:
            lines.append("2026-12-06 10:03:12 ERROR worker-2 disk full on /var/data")
        s = 1 + i
        lines.append(f"2026-12-06 10:{s // 60:02d}:{s % 60:02d} INFO worker-{i % 4} heartbeat ok seq={i}")
    return "\n".join(lines)


_TOKEN = re.compile(r"\w+|[^\w\s]")


def count(text: str) -> int:
    """A stand-in tokenizer: words and punctuation marks."""
    return len(_TOKEN.findall(text))

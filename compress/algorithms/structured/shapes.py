"""The shape of a tool output, by rules on its lines: JSON, a log, a listing, or none of them.

`route` parses JSON (an object or an array, or JSON Lines: every non-blank line an object) and
otherwise counts the lines that look like log lines (timestamps, levels, pytest and pip output,
tracebacks, compiler diagnostics, `git log`) and the lines that look like listing entries (paths,
`ls -l` rows, `grep -n` hits, `git log --oneline` rows, columns of a table such as `pip list`).
A shape needs most lines (60 %) of at least 3; prose, source code and chat transcripts have few such
lines. No model: microseconds for a short text, milliseconds for a long one (it reads at most 400
lines of it).
"""

from __future__ import annotations

import json
import re
from typing import Any

TOOL_SHAPES = ("json", "log", "listing")
SHARE = 0.6  # of the non-blank lines: what "most lines" means
MIN_LINES = 3
SAMPLE = (300, 100)  # lines read from the head and the tail of a long text

_LEVEL = r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|SEVERE|PANIC)"
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2}"
    r"|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
)
_LOG_LINE = re.compile(
    "|".join(
        [
            # a timestamp first (in brackets or not), or a dmesg clock
            r"^\s*[\[(]?(?:" + TIMESTAMP.pattern + r")",
            r"^\[\s*\d+\.\d+\]",
            # a level among the first few words: `INFO`, `[WARN]`, `<ERROR>`, `ERROR:` (not `ERROR = 3`)
            r"^(?:[^\s=(\"']+\s+){0,3}[\[<]?" + _LEVEL + r"[\]>:]?(?:\s|$)(?!\s*=)",
            r"^(?:info|warn|warning|error|debug|fatal|note|hint)(?:\[\w+\])?:\s",
            # pytest
            r"^={3,} .* ={3,}$|^_{3,} .* _{3,}$|^-{3,} .* -{3,}$",
            r"^\S+\.py(?:::\S+)? (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)",
            r"^(?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) \S",
            r"^\S+\.py [.sFExX]+\s*(?:\[\s*\d+%\])?$",
            r"^[.sFExX]+\s*\[\s*\d+%\]$",
            r"^E   |^>   ",
            r"^(?:platform \w+ -- Python|rootdir: |plugins: |cachedir: |configfile: |collected \d+ items?|collecting)",
            # pip
            r"^\s*(?:Collecting|Requirement already satisfied|Downloading|Installing collected packages|"
            r"Successfully (?:installed|built|uninstalled)|Building wheels?|Created wheel|Stored in directory|"
            r"Using cached|Obtaining|Preparing metadata|Getting requirements|Looking in indexes|Would install|"
            r"Attempting uninstall|Found existing installation|Uninstalling \S+:|Processing \S+/|Installing build|"
            r"Running setup\.py|Using pip \d|Defaulting to user|DEPRECATION:|No broken requirements|"
            r"Source in \S+ has|Link requires|\S+ [\w.]+ has requirement|\S+ [\w.]+ requires \S+, which)",
            # tracebacks
            r"^Traceback \(most recent call last\):",
            r"^\s+File \"[^\"]+\", line \d+",
            r"^\s*(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt)(?::|$)",
            r"^(?:During handling of the above exception|The above exception was the direct cause)",
            # compilers and build tools
            r"^[\w./\\-]+\.\w+:\d+(?::\d+)?: (?:fatal )?(?:error|warning|note)\b",
            r"^\s+--> \S+:\d+:\d+",
            r"^\s*\^[~^]*\s*$",
            r"^(?:make|ninja|npm|yarn|cargo|go|gradle)(?:\[\d+\])?(?: ERR!| WARN|:)",
            r"^\[\s*\d+%\] ",
            r"^\s+(?:Compiling|Finished|Running|Building|Linking|Checking|Downloaded|Fresh) \S",
            # git log
            r"^commit [0-9a-f]{40}\b|^(?:Author|Date|Merge): ",
            r"^ \S+ +\| +\d+ ?[+-]*$|^ \d+ files? changed",
            # shell prompts and exit codes
            r"^\$ \S|exit (?:code|status) -?\d+",
        ]
    )
)
# pytest's session header or final summary, or git log's commit header: a log whatever its other lines
_LOG_MARK = re.compile(
    r"^={3,} test session starts ={3,}$|^={3,} .*\b(?:passed|failed|errors?|skipped)\b.* in [\d.]+s.* ={3,}$"
    r"|^commit [0-9a-f]{40}\b",
    re.MULTILINE,
)
# a chat message with a time in front: `[10:02:11] Ana: ...` is a transcript, not a log
_TURN_AFTER_TIME = re.compile(
    r"^\s*[\[(]?(?:" + TIMESTAMP.pattern + r")[\])]?\s*(?:-\s*)?[A-Z][a-z][\w.-]{0,23}:\s"
)

PATH = re.compile(r"^(?P<dir>(?:[^\s/]*/)+)(?P<name>[^\s/]+/?)$")
GREP = re.compile(r"^(?P<file>[^\s:][^:\n]*?):(?P<num>\d+)(?P<sep>[:-])(?P<text>.*)$")
LS_ROW = re.compile(
    r"^[-dlcbpsD][-rwxsStTl]{9}[.@+]?\s+\d+\s+\S+\s+\S+\s+[\d,]+\s+\w{3}\s+\d{1,2}\s+[\d:]{4,5}\s+\S"
)
_LISTING_LINE = re.compile(
    "|".join(
        [
            PATH.pattern,
            r"^[\w.@+-]+\.\w{1,8}/?$|^[\w.@+-]+/$",  # a file name with an extension, a dir/
            LS_ROW.pattern,
            r"^total \d+$",
            r"^[^\s:]*[/.][^\s:]*:\d+[:-]",  # grep -n: a path-like name, a line number
            r"^[^\s:]*/[^\s:]*:\S",  # grep -r without -n
            r"^(?=[0-9a-f]*[a-f])[0-9a-f]{7,12} \S",  # git log --oneline
            r"^-+(?: +-+)+$",  # a table's rule
        ]
    )
)

_COLUMNS = re.compile(r" {2,}")


def is_log_line(line: str) -> bool:
    """Whether a line looks like a log line (and not like a timestamped chat message)."""
    return bool(_LOG_LINE.search(line)) and not _TURN_AFTER_TIME.match(line)


def table_row(line: str) -> bool:
    """Whether a line is a row of a table printed in columns (`pip list`, `ps`, `df`): 3 columns or
    more apart by 2 spaces or more, each of at most 3 words, none ending like a sentence."""
    if not line or line[0].isspace():
        return False
    cols = _COLUMNS.split(line.strip())
    return len(cols) >= 3 and all(len(c.split()) <= 3 and c[-1] not in ".!?,;:" for c in cols)


def is_listing_line(line: str) -> bool:
    """Whether a line looks like an entry of a listing (a path, an `ls -l` row, a grep hit, a table row...)."""
    return bool(_LISTING_LINE.match(line)) or table_row(line)


def parse_json(text: str) -> tuple[Any, bool] | None:
    """The value of a JSON text (an object or an array), or of JSON Lines (a list, `True` for lines);
    None when it is neither."""
    s = text.strip()
    if not s or s[0] not in "[{":
        return None
    try:
        value = json.loads(s)
    except ValueError:
        value = None
    else:
        return (value, False) if isinstance(value, dict | list) else None
    lines = [line for line in s.split("\n") if line.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("{"):
        return None
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            return None
        if not isinstance(row, dict):
            return None
        rows.append(row)
    return rows, True


def _sample(text: str) -> list[str]:
    lines = [line for line in text.split("\n") if line.strip()]
    head, tail = SAMPLE
    return lines if len(lines) <= head + tail else lines[:head] + lines[-tail:]


def route(text: str) -> str | None:
    """`json`, `log` or `listing`: the shape of a tool output; None for anything else (prose, code,
    a chat transcript, a short text)."""
    s = text.strip()
    if not s:
        return None
    if s[0] in "[{" and parse_json(s) is not None:
        return "json"
    lines = _sample(s)
    if len(lines) < MIN_LINES:
        return None
    logs = listings = 0
    in_frame = False  # the source line under a traceback's `File "...", line N` is part of the log
    for line in lines:
        if is_log_line(line) or (in_frame and line.startswith("    ")):
            logs += 1
            in_frame = line.lstrip().startswith('File "')
        else:
            in_frame = False
            listings += is_listing_line(line)
    n = len(lines)
    if logs >= SHARE * n or (_LOG_MARK.search(s) and logs >= 0.25 * n):
        return "log"
    if listings >= SHARE * n:
        return "listing"
    return None

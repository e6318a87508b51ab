"""What a lossy step must keep in a tool output, and what a dropped line looks like.

- `error_units`: the lines (and blocks) that report a failure: error levels, exceptions, Python
  tracebacks whole (from `Traceback (most recent call last):` down to the exception line), pytest's
  failures (`FAILED`, `ERROR`, `E   ` and `>` lines, its summary line), compiler and shell errors,
  non-zero exit codes;
- `template`: a line with its timestamps, hex ids and numbers masked, so the heartbeat lines of a log
  are one template, named by the marker that stands for them.
"""

from __future__ import annotations

import re

from compress.algorithms.structured.shapes import TIMESTAMP

ERROR_LINE = re.compile(
    "|".join(
        [
            r"\b(?:ERROR|ERR|FATAL|CRITICAL|SEVERE|PANIC|EMERG|ALERT)\b",
            r"\b[A-Z]\w*(?:Error|Exception)\b",
            r"\b(?:error|fatal|panic)(?:\[\w+\])?:",
            r"\bError\b",
            r"\bFAILED\b|\bFAIL\b",
            r"^E {3}|^> {2,}",
            r"^={3,} .*\b(?:failed|errors?)\b.* ={3,}$",
            r"\bexit (?:code|status) -?[1-9]\d*|\bnon-zero exit|\breturned -?[1-9]\d* exit status",
            r"\bnpm ERR!|\bSegmentation fault|\bcore dumped|\bKilled\b|\bOOM\b|[Oo]ut of memory",
            r"\b(?:No such file or directory|Permission denied|cannot access|command not found)\b",
            r"\bhas requirement .*, but you have\b|\brequires \S+, which is not installed",
        ]
    )
)
WARN_LINE = re.compile(r"\b(?:WARN|WARNING|DEPRECATION|DeprecationWarning)\b|\bwarning:")
_TRACEBACK = re.compile(r"^\s*Traceback \(most recent call last\):")
# between two tracebacks of one chain: part of the block
_CHAINED = re.compile(r"^(?:During handling of the above exception|The above exception was the direct cause)")

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b")
_NUM = re.compile(r"\d+(?:\.\d+)*")
_LEAD = re.compile(r"^[\s\[\]()|:,-]*")


def template(line: str, width: int = 72) -> str:
    """The line with timestamps (a leading one dropped), UUIDs, hex ids and numbers masked, spaces
    squeezed, at most `width` characters: `INFO worker-# heartbeat ok seq=#`."""
    m = TIMESTAMP.match(line.lstrip(" [("))
    t = line.lstrip(" [(")[m.end() :] if m else line
    t = _LEAD.sub("", t) if m else t
    t = TIMESTAMP.sub("<time>", t)
    t = _HEX.sub("<hex>", _UUID.sub("<uuid>", t))
    t = " ".join(_NUM.sub("#", t).split())
    return t if len(t) <= width else t[: width - 1] + "…"


def error_units(lines: list[str]) -> list[list[int]]:
    """The lines reporting a failure, as units to keep whole: a traceback (chained ones together) is
    one unit, every other error line a unit of its own; in order."""
    units: list[list[int]] = []
    i = 0
    while i < len(lines):
        if _TRACEBACK.match(lines[i]):
            j = i + 1
            while j < len(lines):
                line = lines[j]
                if line.startswith((" ", "\t")) or not line.strip() or _TRACEBACK.match(line):
                    j += 1
                    continue
                # the exception line ends the block, unless another traceback of the chain follows
                k = j + 1
                while k < len(lines) and not lines[k].strip():
                    k += 1
                if k < len(lines) and _CHAINED.match(lines[k]):
                    j = k + 1
                    continue
                j += 1
                break
            # trailing blank lines are not part of it
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1
            units.append(list(range(i, j)))
            i = j
        elif ERROR_LINE.search(lines[i]):
            units.append([i])
            i += 1
        else:
            i += 1
    return units

"""JSON tool outputs: minified, arrays of like objects as tables, and (lossy) rows left out visibly.

Lossless form: minified JSON (unicode kept), in which an array of objects, at least 3 of them with
the same keys in the same order, is written as a table, one row per line:

    {"@cols":["name","version"],"@rows":[
    ["numpy","1.26.4"],
    ["pandas","2.2.1"],
    {"name":"odd-one","version":"1","extra":true}
    ]}

A row is the values of one object in column order; an object with other keys stays an object in
its place. JSON Lines (every line an object) becomes the same table with `"@lines":true`, or stays one
minified object a line. `decode` turns tables back into arrays; compaction checks that it gives
back the data exactly (values, types, key order) and falls back to plain minified JSON when not, or
to `{"@raw": <data>}` when the data itself holds a table-shaped object (`decode` takes `@raw`'s
value as it is).

Lossy form: every array element, every member of an object of 6 members or more and the tail of
every string longer than 240 characters is an item that can go. Left-out items in a row leave one
marker each: `"[… 118 more rows like the above · id 3f9a2b1c]"` in a table or an array, a member
`"…":"[… 12 more keys · id …]"` in an object, `"…[… 4000 more chars · id …]"` at a cut string.
The store gets the compact JSON of the left-out elements (a list, or an object of the members), or
the string's cut tail as it was.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from compress.algorithms.structured.query import line_scores
from compress.algorithms.structured.store import text_id

COLS, ROWS, LINES, RAW = "@cols", "@rows", "@lines", "@raw"
MIN_ROWS = 3
BIG_OBJECT = 6  # members: an object this wide has members that can go
LONG_STRING = 240  # characters: a string this long has a tail that can go
HEAD = 80  # characters of a cut string that stay
STRONG = 0.25  # of the best score: an item the query names more weakly waits with the rest
SCORED = 2000  # characters of an item's own text that its score reads
EDGES = (2, 1)  # elements kept at the head and the tail of every array, so its structure shows
# an item that reports a failure: an error field that is set, an error level, an exception message,
# a traceback, a non-zero exit (free text that mentions errors, a package's description, is no failure)
_JSON_ERROR = re.compile(
    r'"(?:level|severity|status|state|outcome|result|conclusion)" (?i:error|fatal|critical|failed|failure|fail)\b'
    r'|"(?:error|errors|exception|traceback|failure|failures|stderr)" (?!null|false|""|\[\]|\{\}|0\b|\s|$)'
    r"|\b(?:ERROR|FATAL|CRITICAL|FAILED)\b|\b[A-Z]\w*(?:Error|Exception): |Traceback \(most recent call last\)"
    r"|\bexit (?:code|status) -?[1-9]"
)


def dumps(value: Any) -> str:
    """Minified JSON, unicode as it is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def table_cols(items: Sequence[Any]) -> list[str] | None:
    """The columns of a table for an array: the commonest key order when every element is an object
    and at least MIN_ROWS share it; else None."""
    if len(items) < MIN_ROWS or not all(isinstance(x, dict) for x in items):
        return None
    (cols, n), *_ = Counter(tuple(x) for x in items).most_common(1)
    return list(cols) if cols and n >= MIN_ROWS else None


def _is_table(value: dict[str, Any]) -> bool:
    keys = set(value)
    return (
        keys in ({COLS, ROWS}, {COLS, ROWS, LINES})
        and isinstance(value[COLS], list)
        and all(isinstance(c, str) for c in value[COLS])
        and isinstance(value[ROWS], list)
        and all(
            isinstance(r, dict) or (isinstance(r, list) and len(r) == len(value[COLS])) for r in value[ROWS]
        )
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if _is_table(value):
        cols = value[COLS]
        return [
            {c: _decode(v) for c, v in zip(cols, row, strict=True)} if isinstance(row, list) else _decode(row)
            for row in value[ROWS]
        ]
    return {k: _decode(v) for k, v in value.items()}


def decode(value: Any) -> Any:
    """The data a parsed compact JSON stands for: tables back to arrays of objects, `@raw` unwrapped."""
    return decode_document(value)[0]


def decode_document(value: Any) -> tuple[Any, bool]:
    """(data, whether it was JSON Lines) of a parsed compact JSON document."""
    if isinstance(value, dict) and set(value) in ({RAW}, {RAW, LINES}):
        return value[RAW], LINES in value
    lines = isinstance(value, dict) and _is_table(value) and value.get(LINES) is True
    return _decode(value), lines


def restore_value(text: str) -> tuple[Any, bool]:
    """(data, whether JSON Lines) of a compact JSON text: one document, or one compact object a line."""
    try:
        return decode_document(json.loads(text))
    except ValueError:
        return [_decode(json.loads(line)) for line in text.split("\n") if line.strip()], True


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _lines(values: Sequence[Any]) -> str:
    return "\n".join(dumps(v) for v in values)


def same(a: Any, b: Any) -> bool:
    """Equal JSON data: values, types and key order (1 and 1.0 and true differ)."""
    return dumps(a) == dumps(b)


def compact_json(value: Any, lines: bool = False) -> str:
    """The lossless compact form of parsed JSON (`lines`: it came as JSON Lines), checked to decode back."""
    out = JsonDoc(value, lines).render(None)
    if same(restore_value(out), (value, lines)):
        return out
    plain = "\n".join(dumps(v) for v in value) if lines else dumps(value)
    if same(restore_value(plain), (value, lines)):
        return plain
    return dumps({RAW: value, LINES: True} if lines else {RAW: value})


@dataclass
class Item:
    """Something the lossy form can leave out: an array element, a member of a wide object, the tail
    of a long string."""

    kind: str  # "elem" | "member" | "tail"
    parent: int | None  # the item this one lies in (None: the document itself)
    depth: int
    container: int  # the array, object or string it is part of (its siblings are that one's items)
    index: int  # its position there (0 for a tail)
    edge: bool  # among the first or last elements of its array, the first members of its object
    node: Node | None = None  # its value
    own: list[str] = field(default_factory=list)  # its text outside the items within it


@dataclass
class Node:
    """A JSON value laid out for rendering: its children and the items they are."""

    kind: str  # "obj" | "arr" | "str" | "val"
    value: Any = None  # a string's or a scalar's value; the original value of a container
    keys: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    items: list[int | None] = field(default_factory=list)  # per child: the item it is, or None
    cols: list[str] | None = None  # an array written as a table
    fits: list[bool] = field(default_factory=list)  # per element of a table: a row (else an object)
    tail: int | None = None  # a long string's tail item
    container: int = -1  # its id among the containers of items (-1: it holds none)


Mark = Callable[[str], str]


class JsonDoc:
    """A parsed JSON document as a tree of items: render it whole (`render(None)`) or with only some
    items kept, each run of the others behind one marker."""

    def __init__(self, value: Any, lines: bool = False) -> None:
        self.lines = lines
        self.items: list[Item] = []
        self.siblings: list[list[int]] = []  # per container: its items in order
        self.boxes: list[Node] = []  # per container: its node
        self._kept: set[int] | None = None
        self._mark: Mark | None = None
        self._terse = False
        self.root = self._build(value, None, 0, None)

    def _container(self, node: Node) -> int:
        node.container = len(self.siblings)
        self.siblings.append([])
        self.boxes.append(node)
        return node.container

    def _item(self, kind: str, parent: int | None, depth: int, container: int, index: int, edge: bool) -> int:
        self.items.append(Item(kind, parent, depth, container, index, edge))
        self.siblings[container].append(len(self.items) - 1)
        return len(self.items) - 1

    def _own(self, owner: int | None, text: str) -> None:
        if owner is not None and len(self.items[owner].own) < 64:  # enough to score it by
            self.items[owner].own.append(text)

    def _build(self, value: Any, owner: int | None, depth: int, as_row: list[str] | None) -> Node:
        if isinstance(value, dict):
            node = Node("obj", value, keys=list(value))
            wide = len(value) >= BIG_OBJECT and as_row is None
            box = self._container(node) if wide else -1
            for i, (k, v) in enumerate(value.items()):
                iid = self._item("member", owner, depth + 1, box, i, i < 3) if wide else None
                here = iid if iid is not None else owner
                self._own(here, dumps(k))
                node.children.append(child := self._build(v, here, depth + 1, None))
                node.items.append(iid)
                if iid is not None:
                    self.items[iid].node = child
            return node
        if isinstance(value, list):
            node = Node("arr", value, cols=table_cols(value))
            box = self._container(node) if value else -1
            head, tail = EDGES
            for i, v in enumerate(value):
                iid = self._item("elem", owner, depth + 1, box, i, i < head or i >= len(value) - tail)
                fits = node.cols is not None and list(v) == node.cols
                node.fits.append(fits)
                node.children.append(child := self._build(v, iid, depth + 1, node.cols if fits else None))
                node.items.append(iid)
                self.items[iid].node = child
            return node
        if isinstance(value, str):
            node = Node("str", value)
            if len(value) > LONG_STRING:
                self._own(owner, value[:HEAD])
                node.tail = self._item("tail", owner, depth + 1, self._container(node), 0, False)
                self.items[node.tail].node = node
                self._own(node.tail, value[HEAD:])
            else:
                self._own(owner, value)
            return node
        self._own(owner, dumps(value))
        return Node("val", value)

    def item_text(self, i: int) -> str:
        """The text of an item outside the items within it (keys and values), for scoring: its first
        SCORED characters."""
        return " ".join(self.items[i].own)[:SCORED]

    def order(self, query: str | None) -> list[int]:
        """The items, most worth keeping first, every item after the item it lies in: errors, then
        what the query names (rarer words weigh more; what lies within such an item next), then the
        edges of every array, then the rest by depth and position."""
        n = len(self.items)
        texts = [self.item_text(i) for i in range(n)]
        scores, rare = line_scores(texts, query)
        top = max(scores, default=0.0)
        keys: list[tuple[Any, ...]] = []
        for i, it in enumerate(self.items):
            error = it.kind != "tail" and _JSON_ERROR.search(texts[i])  # a long text's body is no report
            asked = rare[i] and scores[i] >= STRONG * top  # singled out, and near the best match
            tier = 0 if error else 1 if asked else 2 if it.edge else 3
            score = scores[i] if tier <= 1 else 0.0  # the rest by depth and position, not common words
            if it.parent is not None and keys[it.parent][0] <= 1 and tier > 1:
                # what lies within an error or a row the query names is its content: next after them
                tier, score = 1, max(score, -0.5 * keys[it.parent][1])
            keys.append((tier, -score, it.depth, it.index, i))
        # an item is worth what the best item within it is worth: it must be kept for that one to show
        best = list(keys)
        for i in range(n - 1, -1, -1):  # children come after their parents in self.items
            p = self.items[i].parent
            if p is not None and best[i] < best[p]:
                best[p] = best[i]
        children: dict[int | None, list[int]] = {}
        for i, it in enumerate(self.items):
            children.setdefault(it.parent, []).append(i)
        heap = [(best[i], i) for i in children.get(None, [])]
        heapq.heapify(heap)
        out: list[int] = []
        while heap:
            _, i = heapq.heappop(heap)
            out.append(i)
            for c in children.get(i, []):
                heapq.heappush(heap, (best[c], c))
        return out

    def choose(self, order: Sequence[int], limit: float, marker_chars: float, terse: bool) -> set[int]:
        """Items in `order` kept while the estimated length (characters) stays within `limit`: an item
        whose parent was not kept, or that would not fit, is skipped and the next one tried."""
        kept: set[int] = set()
        total = float(len(self.render(set(), None, terse)))
        for u in order:
            it = self.items[u]
            if it.parent is not None and it.parent not in kept:
                continue
            if it.kind == "tail":
                assert it.node is not None
                delta = len(it.node.value) - HEAD - marker_chars
            else:
                sib = self.siblings[it.container]
                left = it.index > 0 and sib[it.index - 1] not in kept
                right = it.index < len(sib) - 1 and sib[it.index + 1] not in kept
                delta = self._shallow(u) + (left + right - 1) * marker_chars
            if total + delta <= limit:
                kept.add(u)
                total += delta
        return kept

    def _shallow(self, u: int) -> int:
        """An item's length with nothing within it kept (its own markers in)."""
        it = self.items[u]
        assert it.node is not None
        saved = self._kept, self._mark
        self._kept, self._mark = set(), None
        try:
            if it.kind == "member":
                return len(self._render(it.node, True)) + len(dumps(self._key(u))) + 2
            box = self.boxes[it.container]
            if box.cols is not None and box.fits[it.index]:
                return len(self._row(it.node)) + 2
            return len(self._render(it.node, True)) + 2
        finally:
            self._kept, self._mark = saved

    def _key(self, u: int) -> str:
        it = self.items[u]
        return self.boxes[it.container].keys[it.index]

    def render(self, kept: set[int] | None, mark: Mark | None = None, terse: bool = False) -> str:
        """The document with the items in `kept` (None: all) and one marker for each run of the others.
        `mark(stored_text)` gives a marker's id (and may store the text); without it ids are hashes of
        where the run is (a probe: the same length, no stored text made); `terse`: shorter markers."""
        self._kept, self._mark, self._terse = kept, mark, terse
        root = self.root
        if self.lines and root.kind == "arr" and root.cols is None:  # JSON Lines: one object a line
            return "\n".join(self._elements(root, inline=True, lines=True))
        return self._render(root, inline=False, top=True)

    def whole(self, mark: Mark) -> str:
        """One marker for the whole document: what is left when not even its frame fits."""
        value = self.root.value
        what = (
            f"{len(value)} JSON lines"
            if self.lines
            else f"a JSON object of {len(value)} keys"
            if isinstance(value, dict)
            else f"a JSON array of {len(value)} items"
        )
        return dumps(f"[… {what} · id {mark(compact_json(value, self.lines))}]")

    def _on(self, iid: int | None) -> bool:
        return iid is None or self._kept is None or iid in self._kept

    def _id(self, stored: Callable[[], str], where: str) -> str:
        return self._mark(stored()) if self._mark is not None else text_id(where)

    def _render(self, node: Node, inline: bool, top: bool = False) -> str:
        if node.kind == "val":
            return dumps(node.value)
        if node.kind == "str":
            if node.tail is None or self._on(node.tail):
                return dumps(node.value)
            cut = node.value[HEAD:]
            key = self._id(lambda: cut, f"s{node.container}")
            return dumps(f"{node.value[:HEAD]}…[… {len(cut)} more chars · id {key}]")
        if node.kind == "obj":
            parts: list[str] = []
            i = 0
            while i < len(node.children):
                if self._on(node.items[i]):  # a table in an object (not in a row) still goes a row a line
                    parts.append(f"{dumps(node.keys[i])}:{self._render(node.children[i], inline)}")
                    i += 1
                    continue
                j = i
                while j < len(node.children) and not self._on(node.items[j]):
                    j += 1
                gone = {k: node.value[k] for k in node.keys[i:j]}
                key = self._id(partial(compact_json, gone), f"o{node.container}:{i}:{j}")
                more = "more " if i and not self._terse else ""
                parts.append(f'"…":{dumps(f"[… {j - i} {more}key{_s(j - i)} · id {key}]")}')
                i = j
            return "{" + ",".join(parts) + "}"
        rows = self._elements(node, inline, lines=False)
        sep = ",\n" if not inline and len(rows) > 1 and self._tall(node) else ","
        body = sep.join(rows)
        if sep != ",":
            body = f"\n{body}\n"
        if node.cols is None:
            return f"[{body}]"
        extra = f',"{LINES}":true' if top and self.lines else ""
        return f'{{"{COLS}":{dumps(node.cols)},"{ROWS}":[{body}]{extra}}}'

    def _row(self, node: Node) -> str:
        return "[" + ",".join(self._render(c, True) for c in node.children) + "]"

    @staticmethod
    def _tall(node: Node) -> bool:
        """Whether an array is written one element a line: a table, or elements that are containers."""
        return node.cols is not None or any(c.kind in ("obj", "arr") for c in node.children)

    def _elements(self, node: Node, inline: bool, lines: bool) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(node.children):
            child = node.children[i]
            if self._on(node.items[i]):
                row = node.cols is not None and node.fits[i]
                out.append(self._row(child) if row else self._render(child, True))
                i += 1
                continue
            j = i
            while j < len(node.children) and not self._on(node.items[j]):
                j += 1
            gone = node.value[i:j]
            stored = partial(_lines, gone) if lines else partial(compact_json, gone)
            key = self._id(stored, f"a{node.container}:{i}:{j}")
            more = "more " if i and not self._terse else ""
            if node.cols is not None:
                what = f"{more}row{_s(j - i)}" + (" like the above" if more else "")
            else:
                what = f"{more}item{_s(j - i)}"
            out.append(dumps(f"[… {j - i} {what} · id {key}]"))
            i = j
        return out

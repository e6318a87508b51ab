"""Tool outputs and structured text: routed by shape, compacted losslessly, cut visibly.

- `shapes`: `route(text)` -> `"json"`, `"log"`, `"listing"` or None, by rules on the lines (`TOOL_SHAPES`);
- `lines`: a log's runs of identical lines, a listing's paths by directory and grep hits by file,
  written compactly and restored exactly;
- `jsontree`: JSON minified, arrays of like objects as tables (`{"@cols":[...],"@rows":[...]}`),
  decoded back exactly; the lossy form with markers;
- `signals`: what must stay (errors, tracebacks, failing tests) and a line's template;
- `query`: a query's stemmed content words and each line's score;
- `linepack`: the lossy form of logs and listings;
- `store`: `ExpandStore`, the bounded cache of what every marker stands for;
- `pack`: `compact`, `restore` and `pack(text, shape, budget, count, query, store) -> Packed | None`.

Pure Python and numpy-free rules: no model. The library (`compress.library.load`) routes every text
through here before any compressor sees it.
"""

from compress.algorithms.structured.jsontree import decode
from compress.algorithms.structured.pack import Packed, compact, pack, restore
from compress.algorithms.structured.shapes import TOOL_SHAPES, route
from compress.algorithms.structured.store import ExpandStore

__all__ = ["TOOL_SHAPES", "ExpandStore", "Packed", "compact", "decode", "pack", "restore", "route"]

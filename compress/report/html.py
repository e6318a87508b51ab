"""Writing a report: report.md (tables), the PNG plots and one self-contained report.html."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path
from typing import Any

from compress.report.plots import plot
from compress.report.runs import find_runs, load_run
from compress.report.tables import fmt, markdown_table, report_tables


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(paths: list[Path], out: Path, failed: list[dict[str, Any]] | None = None) -> Path:
    """Write report.md, the PNGs and report.html for the runs under `paths` into `out`; returns report.md.

    `failed`: rows (job, status, overrides, error) of sweep jobs that did not finish, listed in their own section."""
    runs = [load_run(p) for p in find_runs(paths)]
    if not runs:
        raise SystemExit(f"no run with evaluate/summary.json under {', '.join(map(str, paths))}")
    out.mkdir(parents=True, exist_ok=True)
    tables = report_tables(runs)
    if failed:
        tables["Failed jobs"] = failed
    pngs = plot(runs, out)
    tok = runs[0].summary.tokenizer
    md = [
        f"# Comparison of {len(runs)} runs",
        "",
        f"Token counts by {tok}; equivalence is the minimum over validator models "
        f"({', '.join(runs[0].summary.validator_models)}); every compressor is held to the trained compressor's budget.",
        "",
        *[
            line
            for title, rows in tables.items()
            for line in (
                f"## {title}",
                "",
                markdown_table(rows),
                *[
                    f"![{p.stem}]({p.name})\n"
                    for p in pngs
                    if title.startswith("Headline") and p.stem == "ci"
                ],
            )
        ],
        *[f"![{p.stem}]({p.name})\n" for p in pngs if p.stem != "ci"],
    ]
    report = out / "report.md"
    report.write_text("\n".join(md))

    def image(p: Path) -> str:
        data = base64.b64encode(p.read_bytes()).decode()
        return f'<h2>{p.stem}</h2><img alt="{p.stem}" src="data:image/png;base64,{data}">'

    sections = [f"<h2>{html.escape(t)}</h2>{_html_table(rows)}" for t, rows in tables.items()]
    # the headline first: its table and its plot, then everything else
    first = [s for s, t in zip(sections, tables, strict=True) if t.startswith("Headline")]
    rest = [s for s, t in zip(sections, tables, strict=True) if not t.startswith("Headline")]
    ci = [image(p) for p in pngs if p.stem == "ci"]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>compress report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style></head><body>"
        f"<h1>Comparison of {len(runs)} runs</h1><p>{html.escape(md[2])}</p>"
        + "".join(first + ci + rest + [image(p) for p in pngs if p.stem != "ci"])
        + f"<p>written {datetime.now().isoformat(timespec='seconds')}</p></body></html>"
    )
    (out / "report.html").write_text(page)
    return report

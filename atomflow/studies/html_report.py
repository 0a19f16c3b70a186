"""One self-contained HTML page of a study report: its tables, plots inlined, and its JSON.

The page is built from ``report.md`` (rendered with markdown-it, tables enabled) so the
HTML and the Markdown never disagree; PNGs beside it become ``data:`` URIs and
``report.json`` is embedded as ``<script type="application/json" id="report-data">``, so
the single file can be mailed or archived and still carries the machine-readable numbers.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

from markdown_it import MarkdownIt

from atomflow.errors import InputError

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.6rem; text-align: left; }
th { background: #eef2f7; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5rem 0; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def _inline_images(body: str, folder: Path) -> str:
    def repl(match: re.Match) -> str:
        src = html.unescape(match.group(2))
        path = folder / src
        if "/" in src or not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'{match.group(1)}data:image/png;base64,{data}"'

    return re.sub(r'(<img src=")([^"]+\.png)"', repl, body)


def render_html(report_dir: str | Path) -> str:
    """The HTML page of the report in ``report_dir`` (``report.md``, PNGs, ``report.json``)."""
    folder = Path(report_dir)
    md_path = folder / "report.md"
    if not md_path.is_file():
        raise InputError(f"{folder} has no report.md; run the study to completion first")
    text = md_path.read_text()
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), "report")
    body = _inline_images(MarkdownIt("commonmark").enable("table").render(text), folder)
    data = ""
    json_path = folder / "report.json"
    if json_path.is_file():
        payload = json.dumps(json.loads(json_path.read_text())).replace("</", "<\\/")
        data = f'<script type="application/json" id="report-data">{payload}</script>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}{data}</body></html>\n"
    )


def write_html(report_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for the report in ``report_dir``; return its path."""
    path = Path(out) if out else Path(report_dir) / "report.html"
    path.write_text(render_html(report_dir), encoding="utf-8")
    return path

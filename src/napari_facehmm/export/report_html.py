"""The HTML pieces of ``report.html``: escaped values, key-value tables, data tables, embedded images.

Everything the page shows is built here from plain values, so the page needs
nothing but itself: the style is inline, images are ``data:`` URIs, and a
Content-Security-Policy lets the browser load nothing else (no script, no
font, no image from anywhere) even if a value in it named a URL.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CSP", "image", "key_values", "number", "page", "table", "text"]

#: tables longer than this show their first rows only (the CSV has them all)
MAX_ROWS = 200
#: tables longer than this are folded (a click opens them)
FOLD_ROWS = 40

#: what the page may load: images from data: URIs and its own inline style, nothing else
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td{white-space:nowrap}td.k,th.k{text-align:left;white-space:normal}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}.note{color:#666;font-size:.9em}details{margin:.5em 0}summary{cursor:pointer}
.warn{color:#a30}.wide{overflow-x:auto}
"""


def text(value: Any) -> str:
    """``value`` as escaped HTML text."""
    return html.escape(str(value))


def number(value: Any) -> str:
    """A cell value as HTML: integers with thousands separators, floats to 4 significant digits, NaN empty."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(number(v) for v in value)
    if isinstance(value, dict):
        return text(json.dumps(value))
    return text(value)


def key_values(items: dict[str, Any], raw: tuple[str, ...] = ()) -> str:
    """A two-column table of ``items`` (values through :func:`number`; those of keys in ``raw`` are HTML)."""
    rows = "".join(
        f"<tr><th class=k>{text(key)}</th><td class=k>{value if key in raw else number(value)}</td></tr>"
        for key, value in items.items()
        if value is not None
    )
    return f"<div class=wide><table>{rows}</table></div>"


def table(frame: pd.DataFrame, heading: str, raw_columns: tuple[str, ...] = ()) -> str:
    """``<h3>heading</h3>`` and an HTML table of ``frame``'s first :data:`MAX_ROWS` rows, folded when long.

    Cells of ``raw_columns`` are HTML already (links).
    """
    shown = frame.head(MAX_ROWS)
    raw = [c in raw_columns for c in shown.columns]
    head = "".join(f"<th>{text(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{v if r else number(v)}</td>" for v, r in zip(row, raw)) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    more = f"<p class=note>first {MAX_ROWS} of {len(frame):,} rows; all are in the CSV file</p>" if len(frame) > MAX_ROWS else ""
    block = f"<div class=wide><table><tr>{head}</tr>{body}</table></div>{more}"
    if len(frame) > FOLD_ROWS:
        return f"<details><summary><b>{text(heading)}</b> ({len(frame):,} rows)</summary>{block}</details>"
    return f"<h3>{text(heading)}</h3>{block}"


def image(path: Path, caption: str | None = None) -> str:
    """A ``<figure>`` with the PNG at ``path`` embedded as a ``data:`` URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    caption = caption or Path(path).name
    return f'<figure><img alt="{text(Path(path).stem)}" src="data:image/png;base64,{data}"><figcaption>{text(caption)}</figcaption></figure>'


def page(title: str, body: str) -> str:
    """The whole document: ``title`` and ``body`` with the inline style and the Content-Security-Policy."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )

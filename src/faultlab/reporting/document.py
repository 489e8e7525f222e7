"""A tiny document model rendered to Markdown and to one self-contained HTML file.

Reports are built once as a list of blocks; both renderings come from the same blocks and the
same formatted strings, so the Markdown and HTML can never disagree on a number. The HTML
embeds every image as a base64 PNG data URI and carries its CSS inline: it opens offline,
from an e-mail attachment, with no external request.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultlab.utils.io import write_text

# --------------------------------------------------------------------------- number formats


def fmt(x: Any, digits: int = 4) -> str:
    """Scores and other fractions: fixed decimals; None/NaN as an en dash."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != v:  # NaN
        return "–"
    return f"{v:.{digits}f}"


def fmt_ms(x: Any) -> str:
    return fmt(x, 3)


def fmt_s(x: Any) -> str:
    return fmt(x, 2)


def fmt_int(x: Any) -> str:
    if x is None:
        return "–"
    try:
        return f"{int(x):,}"
    except (TypeError, ValueError):
        return str(x)


def fmt_bytes(n: Any) -> str:
    if n is None:
        return "–"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def fmt_pm(mean: Any, std: Any, digits: int = 4) -> str:
    return f"{fmt(mean, digits)} ± {fmt(std, digits)}"


# --------------------------------------------------------------------------- blocks


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Callout:
    text: str
    kind: str = "info"  # info | warning


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str | None = None
    links: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> href


@dataclass
class Image:
    path: Path  # file on disk (embedded in HTML)
    rel: str  # path relative to the report (Markdown link)
    alt: str
    caption: str | None = None


@dataclass
class Code:
    text: str


Block = Heading | Para | Callout | Bullets | Table | Image | Code


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self


# --------------------------------------------------------------------------- Markdown


def _md_cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += [f"{'#' * b.level} {b.text}", ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Callout):
            prefix = "**Warning:** " if b.kind == "warning" else ""
            out += [f"> {prefix}{b.text}", ""]
        elif isinstance(b, Bullets):
            out += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{b.caption}*", ""]
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            for i, row in enumerate(b.rows):
                cells = [
                    f"[{_md_cell(v)}]({b.links[(i, j)]})" if (i, j) in b.links else _md_cell(v)
                    for j, v in enumerate(row)
                ]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        elif isinstance(b, Image):
            out += [f"![{b.alt}]({b.rel})", ""]
            if b.caption:
                out += [f"*{b.caption}*", ""]
        elif isinstance(b, Code):
            out += ["```", b.text.rstrip("\n"), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- HTML

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.45}
h1{border-bottom:2px solid #d0d7de;padding-bottom:.3em}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}tr:nth-child(even) td{background:#fbfcfd}
caption{caption-side:top;text-align:left;font-style:italic;padding:.2em 0}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-style:italic;color:#57606a}
.callout{padding:.6em 1em;border-left:4px solid #0969da;background:#ddf4ff;margin:1em 0}
.callout.warning{border-color:#bf8700;background:#fff8c5}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
"""


def _data_uri(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def to_html(doc: Document) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(doc.title)}</h1>",
    ]
    for b in doc.blocks:
        if isinstance(b, Heading):
            lvl = min(max(b.level, 2), 6)
            parts.append(f"<h{lvl}>{e(b.text)}</h{lvl}>")
        elif isinstance(b, Para):
            parts.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Callout):
            label = "<strong>Warning:</strong> " if b.kind == "warning" else ""
            parts.append(f'<div class="callout {e(b.kind)}">{label}{e(b.text)}</div>')
        elif isinstance(b, Bullets):
            parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            rows = []
            for i, row in enumerate(b.rows):
                cells = []
                for j, v in enumerate(row):
                    txt = e(str(v))
                    if (i, j) in b.links:
                        txt = f'<a href="{e(b.links[(i, j)])}">{txt}</a>'
                    cells.append(f"<td>{txt}</td>")
                rows.append("<tr>" + "".join(cells) + "</tr>")
            cap = f"<caption>{e(b.caption)}</caption>" if b.caption else ""
            head = "<tr>" + "".join(f"<th>{e(str(h))}</th>" for h in b.headers) + "</tr>"
            parts.append(f"<table>{cap}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")
        elif isinstance(b, Image):
            cap = f"<figcaption>{e(b.caption)}</figcaption>" if b.caption else ""
            parts.append(f'<figure><img src="{_data_uri(b.path)}" alt="{e(b.alt)}">{cap}</figure>')
        elif isinstance(b, Code):
            parts.append(f"<pre>{e(b.text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_document(doc: Document, md_path: Path, html_path: Path) -> dict[str, Path]:
    """Write both renderings atomically."""
    write_text(md_path, to_markdown(doc))
    write_text(html_path, to_html(doc))
    return {"md": Path(md_path), "html": Path(html_path)}

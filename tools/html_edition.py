"""Build the HTML edition, build/html/, from the committed notebooks (no re-execution), for reading offline.

One page per chapter (JupyterLab's own nbconvert template, so code, outputs and figures look as in the lab), an
index with the book's pitch and chapter table (both read from README.md, so they cannot drift), previous/next
links and a table of contents on every page. Nothing is fetched from the network: MathJax 3 is copied from the
``sphinx-mathjax-offline`` package; require.js, mermaid and the widget manager (which nbconvert loads from CDNs)
are left out, and a widget output is shown as a note saying where it runs (the chapter draws the static figure
next to each slider).

    python tools/html_edition.py [--out build/html]
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import shutil
import sys
import time
from importlib.metadata import distribution
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "html_template"
# MathJax 3: TeX input, SVG output (no web fonts) and every extension in one file, from sphinx-mathjax-offline.
MATHJAX = Path(distribution("sphinx-mathjax-offline").locate_file(
    "sphinx-mathjax-offline/static/mathjax/tex-svg-full.js"))
# | 3 | [Training](chapters/03_training.ipynb) | cross-entropy ... |
CHAPTER_ROW = re.compile(r"^\| *(\d+) *\| *\[(.+?)\]\(chapters/(\d\d_\w+)\.ipynb\) *\| *(.+?) *\|", re.M)
HEADING = re.compile(r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"', re.S)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<div class="book-widget">Interactive control: it runs when you open this chapter in JupyterLab '
               '(<code>make lab</code>), Colab or Binder.</div>')
CSS = """
body { max-width: 1100px; margin: 0 auto; }
.book-nav { display: flex; gap: 1.5em; align-items: baseline; padding: 0.6em 1em; border-bottom: 1px solid #ddd;
            font-family: sans-serif; font-size: 15px; }
.book-nav .book-home { font-weight: bold; margin-right: auto; }
.book-toc { font-family: sans-serif; font-size: 14px; margin: 1em; padding: 0.5em 1em; border: 1px solid #ddd;
            border-radius: 4px; background: #fafafa; }
.book-toc ul { margin: 0.3em 0; padding-left: 1.2em; }
.book-widget { font-family: sans-serif; font-size: 14px; padding: 0.5em 1em; border-left: 4px solid #4a90d9;
               background: #eef4fb; }
.book-index { font-family: sans-serif; padding: 1em 2em; line-height: 1.5; }
.book-index table { border-collapse: collapse; } .book-index td { padding: 0.4em 0.8em; vertical-align: top;
                                                                   border-bottom: 1px solid #eee; }
"""


def chapters() -> list[dict]:
    """The README's chapter table: number, title, notebook stem, what the reader does in it."""
    rows = [dict(number=int(n), title=t, stem=s, blurb=b) for n, t, s, b in CHAPTER_ROW.findall(
        (ROOT / "README.md").read_text())]
    missing = {p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")} - {r["stem"] for r in rows}
    if missing:
        raise SystemExit(f"README.md's chapter table lacks {sorted(missing)}")
    return rows


def pitch() -> str:
    """The README paragraph that says what the book is."""
    text = (ROOT / "README.md").read_text()
    start = text.index("littlebook is a deep-learning textbook")
    return markdown2html_mistune(text[start:text.index("\n\n", start)])


def without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy whose widget outputs are a note (the widget manager would come from a CDN)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE})
                            if WIDGET_VIEW in out.get("data", {}) else out for out in cell.outputs]
    return nb


def link(row: dict | None, label: str) -> str:
    if row is None:
        return "<span></span>"
    return f'<a href="{row["stem"]}.html">{label} {row["number"]}. {html.escape(row["title"])}</a>'


def nav(prev: dict | None, nxt: dict | None) -> str:
    return (f'<nav class="book-nav"><a class="book-home" href="index.html">littlebook</a>'
            f'{link(prev, "←")}{link(nxt, "→")}</nav>')


def chapter_page(exporter: HTMLExporter, row: dict, prev: dict | None, nxt: dict | None) -> str:
    nb = without_widgets(nbformat.read(ROOT / "chapters" / f"{row['stem']}.ipynb", as_version=4))
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{row['number']}. {row['title']}"}})
    toc = "".join(f'<li><a href="#{anchor}">{text.strip()}</a></li>' for anchor, text in HEADING.findall(body))
    toc = f'<div class="book-toc"><b>Contents</b><ul>{toc}</ul></div>'
    body = body.replace("<!--BOOK-NAV-->", nav(prev, nxt) + toc)
    body = body.replace("<!--BOOK-FOOTER-->", nav(prev, nxt))
    # Links between chapters point at notebooks in the sources; in the HTML edition, at pages.
    return re.sub(r'href="(?:\.\./chapters/|chapters/)?(\d\d_\w+)\.ipynb', r'href="\1.html', body)


def index_page(rows: list[dict]) -> str:
    table = "".join(f'<tr><td>{r["number"]}</td><td><a href="{r["stem"]}.html">{html.escape(r["title"])}</a></td>'
                    f'<td>{markdown2html_mistune(r["blurb"])}</td></tr>' for r in rows)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>littlebook</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1.0">'
            f'<link rel="icon" href="data:,"><link rel="stylesheet" href="_static/book.css"></head><body>'
            f'<nav class="book-nav"><a class="book-home" href="index.html">littlebook</a>'
            f'{link(rows[0], "→")}</nav><div class="book-index"><h1>littlebook — an executable little book of deep '
            f'learning</h1>{pitch()}<h2>Chapters</h2><table>{table}</table></div></body></html>\n')


def build(out: Path) -> list[Path]:
    rows = chapters()
    out.mkdir(parents=True, exist_ok=True)
    static = out / "_static"
    static.mkdir(exist_ok=True)
    shutil.copy(MATHJAX, static / "mathjax.js")
    (static / "book.css").write_text(CSS)
    exporter = HTMLExporter(template_name="book", extra_template_basedirs=[str(TEMPLATES)],
                            mathjax_url="_static/mathjax.js")
    pages = [out / "index.html"]
    pages[0].write_text(index_page(rows))
    for i, row in enumerate(rows):
        page = out / f"{row['stem']}.html"
        page.write_text(chapter_page(exporter, row, rows[i - 1] if i else None,
                                     rows[i + 1] if i + 1 < len(rows) else None))
        pages.append(page)
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "html")
    args = parser.parse_args()
    start = time.perf_counter()
    pages = build(args.out)
    print(f"HTML edition: {len(pages)} pages in {args.out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The summary of a `mtfix clean` run: JSON for programs, an HTML page with charts for people."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence


def _atomic_write(path: Path, text: str) -> None:
    from mtfix.text.outputs import place, temporary_beside

    tmp = temporary_beside(str(path))
    Path(tmp).write_text(text, encoding="utf-8")
    place(tmp, str(path))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], width: int = 560) -> str:
    """A horizontal bar chart as inline SVG (no plotting library needed)."""
    row, left = 24, 150
    top = max(values, default=0) or 1
    height = row * len(labels) + 10
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        w = (width - left - 70) * value / top
        y = 5 + i * row
        bars.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{html.escape(str(label))}</text>'
                    f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="#c0392b"/>'
                    f'<text x="{left + w + 6:.1f}" y="{y + 16}">{value:,.0f}</text>')
    return (f"<h2>{html.escape(title)}</h2><svg width=\"{width}\" height=\"{height}\" "
            f"font-family=\"sans-serif\" font-size=\"13\">{''.join(bars)}</svg>")


def summary_html(summary: dict[str, Any]) -> str:
    facts = [("records read", summary["records"]), ("written", summary["written"]),
             ("rejected (OUT.rejects.jsonl)", summary["rejected"]), ("filtered", summary["filtered"]),
             ("words", summary["words"]), ("flagged words", summary["flagged_words"]),
             ("flags per 100 words", summary["flags_per_100_words"]), ("edits", summary["edits"])]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:,}</td></tr>" for k, v in facts)
    classes = summary["classes"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mtfix clean: {html.escape(summary['input'])}</title>
<style>body{{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}}
th{{text-align:left;padding-right:2em;font-weight:normal;color:#555}}td{{text-align:right}}</style></head>
<body><h1>mtfix clean</h1><p>{html.escape(summary['input'])} &rarr; {html.escape(summary['output'])}
(policy {html.escape(summary['policy'])}, {summary.get('seconds', 0):,} s)</p>
<table>{table}</table>
{bar_chart("Records by artifact density (flagged words per 100)", summary["density_bins"], summary["density"])}
{_mt_chart(summary)}
{bar_chart("Flags by class", list(classes), list(classes.values())) if classes else "<p>No flags.</p>"}
</body></html>
"""


def _mt_chart(summary: dict[str, Any]) -> str:
    """The documents by their MT probability (nothing where no document head read them)."""
    counts = summary.get("mt_probability") or []
    if not any(counts):
        return ""
    return bar_chart("Documents by the probability that they went through machine translation",
                     summary["mt_probability_bins"], counts)


def write_summary(summary: dict[str, Any], json_path: Path, html_path: Path) -> None:
    _atomic_write(json_path, json.dumps(summary, indent=2) + "\n")
    _atomic_write(html_path, summary_html(summary))

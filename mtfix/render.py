"""What people see: highlighted text, progress bars and score tables."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from mtfix.text.formats import Document, Segment


def mt_line(p: float, whole: bool) -> str:
    """The line the terminal views print above a document: its MT probability."""
    what = "this document" if whole else "this record"
    verdict = "reads as machine-translated" if p >= 0.5 else "reads as written in English"
    return f"{what} {verdict}: P(machine-translated) = {p:.2f}"


class DocumentLine:
    """Prints a document's MT probability above it: once above a whole document (``whole``: the segments are one
    document), else above each record that has one."""

    def __init__(self, console: Any, whole: bool) -> None:
        self.console, self.whole, self.shown = console, whole, False

    def __call__(self, doc: Document) -> None:
        if doc.mt_probability is None or (self.whole and self.shown):
            return
        self.console.print(mt_line(doc.mt_probability, self.whole), style="bold" if self.whole else "dim")
        self.shown = True


class Highlighter:
    """Prints each segment with its flagged spans in colour and their scores after them, the document's MT
    probability above it."""

    def __init__(self, out: Any, whole: bool = False) -> None:
        from rich.console import Console

        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.document = DocumentLine(self.console, whole)

    def show(self, doc: Document) -> None:
        from rich.text import Text

        self.document(doc)
        line = Text(doc.text)
        for span in doc.spans:
            if span.end > span.start:
                line.stylize("bold white on red", span.start, span.end)
        line.append_text(self._scores(doc))
        self.console.print(line)

    @staticmethod
    def _scores(doc: Document) -> Any:
        from rich.text import Text

        tail = Text()
        for span in doc.spans:
            shown = doc.text[span.start:span.end] or "^"
            hint = (span.evidence or {}).get("candidate")
            hint = f" -> {hint or '(delete)'}" if hint is not None else ""
            kind = f" {span.class_name}" if span.class_name else ""
            tail.append(f"  [{shown} {span.score:.2f}{kind}{hint}]", style="dim")
        return tail


class DiffView:
    """Prints each segment as a word-level diff: deletions red and struck through, insertions green, each edit's
    score after it; flagged spans with no confident fix are underlined in yellow. Without colour (a pipe, a file,
    NO_COLOR) the marks are written out: [-deleted-]{+inserted+}[score], [?flagged, not fixed?]."""

    def __init__(self, out: Any, whole: bool = False) -> None:
        from rich.console import Console

        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.document = DocumentLine(self.console, whole)

    def show(self, doc: Document) -> None:
        self.document(doc)
        edits = doc.edits or []
        unfixed = [s for s in doc.spans if s.end > s.start and not any(e.start < s.end and s.start < e.end
                                                                      for e in edits)]
        marks = not self.console.is_terminal or self.console.no_color
        self.console.print(diff_text(doc.text, edits, unfixed=unfixed, marks=marks))


def diff_text(text: str, edits: Any, focus: int | None = None, unfixed: Any = (), marks: bool = False) -> Any:
    """The diff of ``edits`` on ``text`` as rich Text; edit number ``focus`` is underlined (the one under review).
    ``marks``: also write the diff in characters (for output without colour): [-old-]{+new+}, [?unfixed?]."""
    from rich.text import Text

    line = Text()
    cursor = 0

    def plain(upto: int) -> None:  # text between edits, with unfixed flagged spans underlined
        nonlocal cursor
        for span in unfixed:
            if cursor <= span.start and span.end <= upto:
                line.append(text[cursor:span.start])
                shown = text[span.start:span.end]
                line.append(f"[?{shown}?]" if marks else shown, style="underline yellow")
                cursor = span.end
        line.append(text[cursor:upto])
        cursor = upto

    for n, edit in enumerate(sorted(edits, key=lambda e: (e.start, e.end))):
        plain(edit.start)
        mark = " underline" if n == focus else ""
        if edit.end > edit.start:
            old = text[edit.start:edit.end]
            line.append(f"[-{old}-]" if marks else old, style="bold red strike" + mark)
        if edit.replacement:
            line.append(f"{{+{edit.replacement}+}}" if marks else edit.replacement, style="bold green" + mark)
        line.append(f"[{edit.score:.2f}]", style="dim")
        cursor = edit.end
    plain(len(text))
    return line


@contextmanager
def progress(verb: str, name: str) -> Iterator[Callable[[Segment], None]]:
    """A progress bar on standard error with segments/s and words/s; silent when stderr is not a terminal."""
    if not sys.stderr.isatty() or os.environ.get("MTFIX_NO_PROGRESS"):
        yield lambda segment: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    words = 0
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} segments"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(f"{verb} {name}", rate="")

        def advance(segment: Segment) -> None:
            nonlocal words
            words += len(segment.text.split()) if segment.text else 0
            elapsed = bar.tasks[0].elapsed or 1e-9
            bar.update(task, advance=1, rate=f"{words / elapsed:,.0f} words/s")

        yield advance


@contextmanager
def corpus_progress(description: str, total: int | None) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for corpora: records/s, words/s and ETA; silent when stderr is not a terminal."""
    if not sys.stderr.isatty() or os.environ.get("MTFIX_NO_PROGRESS"):
        yield lambda records, words: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    words = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task(description, total=total, rate="")

        def advance(records: int, n_words: int) -> None:
            nonlocal words
            words += n_words
            elapsed = bar.tasks[0].elapsed or 1e-9
            done = bar.tasks[0].completed + records
            bar.update(task, advance=records, rate=f"{done / elapsed:,.1f} records/s {words / elapsed:,.0f} words/s")

        yield advance


_ROWS = [
    ("detection", "word level (BAD = artifact)", [
        ("word_mcc", "MCC"), ("word_f1_bad", "F1-BAD"), ("word_precision_bad", "precision BAD"),
        ("word_recall_bad", "recall BAD"), ("word_f1_ok", "F1-OK"), ("word_f1_mult", "F1-mult")]),
    ("detection", "span level", [
        ("span_exact_precision", "exact precision"), ("span_exact_recall", "exact recall"),
        ("span_exact_f05", "exact F0.5"), ("span_partial_precision", "partial precision"),
        ("span_partial_recall", "partial recall"), ("span_partial_f05", "partial F0.5")]),
    ("correction", "edits", [
        ("edit_precision", "precision"), ("edit_recall", "recall"), ("edit_f05", "F0.5")]),
]


def _cell(entry: dict[str, float], scale: float = 1.0, digits: int = 3) -> str:
    value = f"{entry['value'] * scale:.{digits}f}"
    if "low" in entry:
        value += f"  [{entry['low'] * scale:.{digits}f}, {entry['high'] * scale:.{digits}f}]"
    return value


def score_table(result: dict[str, Any], gold: str | None, pred: str | None, clean: str | None) -> str:
    """The readable report of ``mtfix score``."""
    lines = [f"mtfix score  gold: {gold or '-'}  pred: {pred or '-'}" + (f"  clean: {clean}" if clean else "")]
    if "segments" in result:
        lines.append(f"{result['segments']:,} segments, {result['words']:,} words; values with 95% intervals")
    for section, title, rows in _ROWS:
        if section not in result:
            continue
        lines.append(f"\n{section}, {title}")
        for key, name in rows:
            lines.append(f"  {name:<20} {_cell(result[section][key])}")
    if result.get("by_label"):
        lines.append("\nrecall by gold span label (words flagged / span touched)")
        for label, entry in result["by_label"].items():
            lines.append(f"  {label:<20} {entry['word_recall']:.3f} of {entry['words']:,} words   "
                         f"{entry['span_recall']:.3f} of {entry['spans']:,} spans")
    text = result.get("text") or {}
    if text:
        lines.append("\nfixed text against the reference (input unchanged = baseline)")
        for metric, name in (("chrf", "chrF"), ("ter", "TER (lower is better)")):
            lines.append(f"  {name:<22} fixed {_cell(text[metric + '_fixed'], digits=2)}   "
                         f"input {_cell(text[metric + '_input'], digits=2)}   "
                         f"delta {text[metric + '_delta']['value']:+.2f}")
    if "clean" in result:
        c = result["clean"]
        lines.append(f"\nclean text ({c['words']:,} words): {c['flags_per_1k_words']:.1f} flagged words and "
                     f"{c['edits_per_1k_words']:.1f} edits per 1,000 words")
    lines.append(f"\nsignature: {result['signature']}")
    if text:
        lines.append(f"chrF: {text['chrf_signature']}  TER: {text['ter_signature']}")
    return "\n".join(lines)

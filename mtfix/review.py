"""`mtfix fix --interactive`: a person walks through the suggested edits one by one in the terminal."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Sequence

from mtfix.text.formats import Document
from mtfix.text.spans import Edit, apply_edits

HELP = ("[a]ccept (Enter)  [r]eject  [1-9] pick an alternative  [e]dit: type your own  [u]ndo  "
        "[q]uit and save  [?] help")


class Review:
    """Asks about each edit in turn; undo goes back one decision; quitting keeps what was decided (the edits not
    reached yet are left out)."""

    def __init__(self, docs: Sequence[Document], ask: Callable[[str], str] = input, out: Any = None) -> None:
        from rich.console import Console

        self.docs = list(docs)
        self.ask = ask
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.queue = [(d, n) for d, doc in enumerate(self.docs)
                      for n in range(len(sorted(doc.edits or [], key=lambda e: (e.start, e.end))))]
        self.decisions: list[Edit | None] = [None] * len(self.queue)  # None: rejected (or not reached)

    def _edit(self, k: int) -> Edit:
        d, n = self.queue[k]
        return sorted(self.docs[d].edits or [], key=lambda e: (e.start, e.end))[n]

    def _show(self, k: int) -> None:
        from mtfix.render import diff_text

        d, n = self.queue[k]
        doc = self.docs[d]
        edit = self._edit(k)
        where = f"line {d + 1}" if doc.id is None else f"record {doc.id}"
        self.console.print(f"\n[bold]edit {k + 1} of {len(self.queue)}[/bold] ({where})")
        self.console.print(diff_text(doc.text, [edit], focus=0))
        original = doc.text[edit.start:edit.end] or "(nothing)"
        self.console.print(f"  {original!r} -> {edit.replacement or '(delete)'!r}  score {edit.score:.2f}",
                           highlight=False, markup=False)
        for i, alt in enumerate(edit.alternatives[:9], 1):
            self.console.print(f"  {i}) {alt or '(delete)'!r}", markup=False)

    def run(self) -> list[Document]:
        """The documents with the accepted edits only (and their fixed text)."""
        k = 0
        while k < len(self.queue):
            self._show(k)
            try:
                answer = self.ask("accept? [a/r/1-9/e/u/q/?] ").strip()
            except EOFError:
                break
            edit = self._edit(k)
            if answer in ("", "a", "y"):
                self.decisions[k] = edit
            elif answer in ("r", "n"):
                self.decisions[k] = None
            elif answer.isdigit() and 1 <= int(answer) <= len(edit.alternatives):
                self.decisions[k] = replace(edit, replacement=edit.alternatives[int(answer) - 1])
            elif answer == "e":
                try:
                    typed = self.ask("replacement (empty deletes): ")
                except EOFError:
                    break
                self.decisions[k] = replace(edit, replacement=typed, score=1.0)
            elif answer == "u":
                if k == 0:
                    self.console.print("nothing to undo")
                else:
                    k -= 1
                    self.decisions[k] = None
                continue
            elif answer == "q":
                break
            else:
                self.console.print(HELP, markup=False)
                continue
            k += 1
        accepted = sum(1 for d in self.decisions if d is not None)
        self.console.print(f"\n{accepted} of {len(self.queue)} edits accepted")
        out = []
        for d, doc in enumerate(self.docs):
            edits = [e for (dd, _), e in zip(self.queue, self.decisions) if dd == d and e is not None]
            out.append(replace(doc, edits=edits, fixed=apply_edits(doc.text, edits)))
        return out

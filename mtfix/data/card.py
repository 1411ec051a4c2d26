"""The data card of `mtfix data build`: counts by source and class, examples, and what each source cannot teach."""
from __future__ import annotations

import random
from typing import Any

from mtfix.data.examples import SPLITS, Example

CANNOT_TEACH = {
    "mlqe-pe": "Its tags mark every word a post-editor changed, most of them fluent meaning changes that only the "
               "source reveals (the 'meaning', 'missing' and 'extra' kinds, not visible to a monolingual reader); "
               "it is Wikipedia and Reddit MT from five languages, not news round trips through German.",
    "apertium": "Rule-based MT errs differently from neural MT: word-by-word sense slips, untranslated words, and "
                "quirks removed here (case flips after adverbs, double spaces); fluent neural paraphrase is absent, "
                "and one pivot (glg) is held out to measure transfer to an unseen system.",
    "synthetic": "Each corruptor makes one known kind of artifact, cleanly and locally: by default it cannot teach "
                 "the long, multi-word rewrites of a real round trip (--multi-word adds neighbouring corruptions as "
                 "one span and swapped clauses), and its pivot swaps come from a dictionary, so some are synonyms a "
                 "reader would accept (--lm-plausible adds fluent wrong words drawn from what SmolLM2 finds likely "
                 "at the place, the kind no dictionary lists).",
    "clean": "Untouched human prose teaches what to leave alone; it holds its own typos and unusual names, which "
             "count as false flags.",
}


def card(examples: dict[str, list[Example]], summary: dict[str, Any], leaks: dict[str, int], seconds: float,
         command: str, rng: random.Random) -> str:
    """The data card: counts by source and class, twenty examples, and what each source cannot teach."""
    lines = ["# mtfix training data (`mtfix data build`)", "",
             f"Built with `{command}` in {seconds / 60:.1f} minutes on this machine; seeded and reproducible.", "",
             "Each example is one segment: `text` (with artifacts), `spans` (start, end, label, fix, visible), "
             "`reference` (the clean text: applying every span's fix to `text` gives it exactly) and `source`.", "",
             "## Segments by split and source", "",
             "| split | segments | clean | mlqe-pe | apertium | synthetic | clean share |",
             "|---|---|---|---|---|---|---|"]
    for split in SPLITS:
        s = summary[split]
        b = s["by_source"]
        lines.append(f"| {split} | {s['segments']:,} | {b.get('clean', 0):,} | {b.get('mlqe-pe', 0):,} | "
                     f"{b.get('apertium', 0):,} | {b.get('synthetic', 0):,} | {s['clean_share']:.0%} |")
    lines += ["", "Detailed sources (train): " + ", ".join(f"`{k}` {v:,}" for k, v in
                                                      sorted(summary["train"]["by_detail"].items())), ""]
    lines += ["## Spans by class", "", "| source / class | train | dev | test |", "|---|---|---|---|"]
    keys = sorted({k for split in SPLITS for k in summary[split]["classes"]})
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(f"{summary[s]['classes'].get(key, 0):,}" for s in SPLITS) + " |")
    t = summary["train"]
    lines += ["", f"MLQE-PE spans a monolingual reader could see (non-word, casing, spacing, punctuation, "
                  f"repetition, article, pronoun, preposition, morphology, function word): "
                  f"{t['mlqe_visible_share']:.0%} of {t['mlqe_spans']:,} tagged train spans; the rest are fluent "
                  "meaning changes (`visible: false`), which training can weigh down.", "",
              "## Leak check", "",
              f"{leaks['test_sentences_checked']:,} sentences of the MLQE-PE test sets (source, MT, post-edit) were "
              f"looked for in train and dev: {leaks['train']} train and {leaks['dev']} dev examples matched and "
              "were dropped before saving. The split of a clean sentence comes from its hash, so every example "
              "made from one sentence lands in one split.", "",
              "## What each source cannot teach", ""]
    lines += [f"- **{name}**: {text}" for name, text in CANNOT_TEACH.items()]
    lines += ["", "## Twenty examples (train)", ""]
    with_spans = [e for e in examples["train"] if e.spans]
    by_family: dict[str, list[Example]] = {}
    for e in with_spans:
        by_family.setdefault(e.source, []).append(e)
    picks: list[Example] = []
    families = sorted(by_family)
    while len(picks) < 20 and families:
        for fam in list(families):
            if by_family[fam]:
                picks.append(by_family[fam].pop(rng.randrange(len(by_family[fam]))))
            else:
                families.remove(fam)
            if len(picks) == 20:
                break
    for e in picks:
        shown = "; ".join(f"\"{e.text[s['start']:s['end']]}\" -> \"{s['fix']}\" ({s['label']})" for s in e.spans)
        lines.append(f"- `{e.source}`: {e.text}  \n  {shown}")
    return "\n".join(lines) + "\n"

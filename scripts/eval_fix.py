"""Evaluate `mtfix fix` end to end with `mtfix score`: MLQE-PE per pair (edit P/R/F0.5, chrF and TER of the
fixed text next to the unchanged MT), edits per 1,000 words of held-out clean news, the synthetic split's
exact-fix rate per artifact class (given the gold spans), and the seed article's diff.

    python scripts/eval_fix.py --data runs/data/dataset --split dev --out runs/fix-dev     # choose --min-score
    python scripts/eval_fix.py --data runs/data/dataset --split test --out runs/fix-test   # once per model

Corrections are made once with --min-score 0 --swap-score 0 and scored at each setting: the edits under a
swap bar (meaning swaps, a content word put in place of an unrelated one, scored under --swap-score) are left
out, then mtfix score --threshold applies the min-score. The dev run shows the whole trade-off at the
corrector's own swap bar; the test run reports the corrector's default. --swap-scores adds other swap bars.
"""
from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MLQE = ROOT.parent / "shared" / "data" / "mlqe-pe"
PAIRS = ["ro-en", "et-en", "ne-en", "si-en", "ru-en"]
PARTS = ["mlqe", "clean", "synthetic", "end-to-end", "apertium"]
THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def mtfix(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mtfix", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**__import__("os").environ, "MTFIX_NO_PROGRESS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"mtfix {' '.join(args)} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def fix(gold: Path, pred: Path, extra: list[str]) -> None:
    """Corrections for ``gold`` at --min-score 0 and --swap-score 0; kept from an earlier run of the same --out."""
    if not pred.exists():
        mtfix("fix", "--format", "jsonl", "--min-score", "0", "--swap-score", "0", str(gold), "-o", str(pred),
              *extra)


@functools.lru_cache(maxsize=None)
def at_swap(pred: Path, swap: float | None) -> Path:
    """``pred`` as `mtfix fix --swap-score swap` would have written it: the meaning swaps scored under ``swap``
    left out (the best option is dropped, not replaced: what the corrector does). Written once per bar: every
    min-score reads the same file."""
    from mtfix.correct.guards import is_swap

    if swap is None:
        return pred
    out = pred.with_name(f"{pred.stem}.swap{swap:g}.jsonl")
    lines = []
    for line in pred.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("edits"):
            record["edits"] = [e for e in record["edits"]
                               if e["score"] >= swap or not is_swap(e["original"], e["replacement"])]
        lines.append(json.dumps(record, ensure_ascii=False))
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return out


def score(gold: Path, pred: Path, setting: tuple[float, float | None]) -> dict:
    threshold, swap = setting
    return json.loads(mtfix("score", "--gold", str(gold), "--pred", str(at_swap(pred, swap)), "--json",
                            "--bootstrap", "200", "--threshold", str(threshold)))


def name(setting: tuple[float, float | None]) -> str:
    """A setting's key in report.json and its column head: the min-score, and the swap bar after a slash."""
    return f"{setting[0]:g}" if setting[1] is None else f"{setting[0]:g}/{setting[1]:g}"


def defaults(corrector: str | None) -> tuple[float, float | None, float | None]:
    """The corrector's own --min-score and --swap-score, and its bar in a document that reads as translated."""
    import mtfix as api

    loaded = api.load(fast=True, corrector=corrector).corrector
    return float(loaded.min_score), loaded.swap_score, loaded.follow_score


def document_bar(records: list[dict], default: float, follow_score: float | None, follow: Any
                 ) -> tuple[float, float | None]:
    """The bar the default fixes a plain-text document at, from its records (each line carries the document's
    ``mt_probability``): ``follow_score`` where the document reads as translated (``follow``, the detector's
    document.Follow; None: none), else ``default``; and the document's MT probability."""
    p = next((r["mt_probability"] for r in records if r.get("mt_probability") is not None), None)
    translated = follow is not None and follow_score is not None and follow.translated(p)
    return (follow_score if translated else default), p


def shipped_follow(fast: bool) -> Any:
    """The detector's document.Follow, which says from which MT probability a document reads as translated (None:
    none, or the tagger alone)."""
    from mtfix.detect.document import load_follow
    from mtfix.models import shipped_detector

    return None if fast else load_follow(shipped_detector())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--corrector", help="a corrector folder (default: the shipped one, models/rewriter)")
    parser.add_argument("--fast", action="store_true", help="detect with the tagger alone")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", default=",".join(PAIRS), help="MLQE-PE pairs, comma-separated")
    parser.add_argument("--limit", type=int, default=0, help="the first N segments of each MLQE-PE pair (0: all)")
    parser.add_argument("--clean-limit", type=int, default=0, help="the first N clean news segments (0: all)")
    parser.add_argument("--synthetic-limit", type=int, default=1500,
                        help="the first N synthetic rows (default 1500)")
    parser.add_argument("--multi-word", type=int, default=0, metavar="N",
                        help="also N rows of multi-word damage (neighbouring corruptions, clause order) made from the "
                             "split's clean sentences, given the gold spans and end to end (the data set holds none)")
    parser.add_argument("--apertium-limit", type=int, default=300,
                        help="the first N apertium rows of the split (test: Galician, a pivot never trained on)")
    parser.add_argument("--swap-scores", default="",
                        help="swap bars to score besides the corrector's own, comma-separated (each at the default "
                             "min-score on test, at every min-score on dev)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"what to run, comma-separated (default: all of {', '.join(PARTS)})")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    extra = (["--corrector", args.corrector] if args.corrector else []) + (["--fast"] if args.fast else [])
    default, swap, follow_score = defaults(args.corrector)
    thresholds = sorted(set(THRESHOLDS + [default])) if args.split == "dev" else [default]
    bars = [swap] + [float(b) for b in args.swap_scores.split(",") if b and float(b) != swap]
    # each setting is (min-score, swap bar); the corrector's own swap bar is written without its "/bar"
    settings = [(t, None if b == swap else b) for b in bars for t in thresholds]
    own = {s: (s[0], swap if s[1] is None else s[1]) for s in settings}
    report: dict = {"default_min_score": default, "mlqe": {}, "clean": {}, "synthetic": {}}
    subset = f", the first {args.limit} segments of each pair" if args.limit else ""
    swaps = f"; meaning swaps only at {swap:g} or more, the default --swap-score" if swap is not None else ""
    lines: list[str] = []
    if "mlqe" in parts:
        lines += [f"### MLQE-PE {args.split}{subset}: the detector's spans, corrected (min-score {default:g} is the "
                  f"default{swaps})", "", "| pair | min-score | edits | edit P | edit R | edit F0.5 | "
                  "chrF MT -> fixed (delta) | TER MT -> fixed (delta) |", "|---|---|---|---|---|---|---|---|"]
        for pair in args.pairs.split(","):
            gold = out / f"{pair}.gold.jsonl"
            if not gold.exists():
                mtfix("data", "mlqe", str(MLQE / f"{pair}-{args.split}.tar.gz"), "-o", str(gold))
                if args.limit:
                    gold.write_text("".join(gold.read_text().splitlines(keepends=True)[:args.limit]))
            pred = out / f"{pair}.fix.jsonl"
            fix(gold, pred, extra)
            for s in settings:
                r = score(gold, pred, own[s])
                c, x = r["correction"], r["text"]
                report["mlqe"][f"{pair}@{name(s)}"] = {"correction": c, "text": x}
                lines.append(
                    f"| {pair} | {name(s)} | {count_edits(at_swap(pred, own[s][1]), s[0])} | "
                    f"{c['edit_precision']['value']:.3f} | {c['edit_recall']['value']:.3f} | "
                    f"{c['edit_f05']['value']:.3f} | "
                    f"{x['chrf_input']['value']:.2f} -> {x['chrf_fixed']['value']:.2f} "
                    f"({x['chrf_delta']['value']:+.2f}) | {x['ter_input']['value']:.2f} -> "
                    f"{x['ter_fixed']['value']:.2f} ({x['ter_delta']['value']:+.2f}) |")
        print("\n".join(lines), flush=True)

    if "clean" in parts:
        clean_gold = out / "clean.gold.jsonl"
        if not clean_gold.exists():
            mtfix("data", "export", args.data, "--split", args.split, "--source", "clean:abc-,clean:state-union",
                  "-o", str(clean_gold))
            if args.clean_limit:
                clean_gold.write_text("".join(clean_gold.read_text().splitlines(keepends=True)[:args.clean_limit]))
        pred = out / "clean.fix.jsonl"
        fix(clean_gold, pred, extra)
        lines += ["", f"### Clean news ({args.split} split, held out from training): edits per 1,000 words", "",
                  "| min-score | edits per 1,000 words | flagged words per 1,000 |", "|---|---|---|"]
        # the detector's flags at its own threshold (every span it wrote); --threshold T would count only the spans
        # scored T or more, which is the min-score of the edits, not the detector's
        flags = json.loads(mtfix("score", "--clean", str(pred), "--json"))["clean"]["flags_per_1k_words"]
        for s in settings:
            rates = json.loads(mtfix("score", "--clean", str(at_swap(pred, own[s][1])), "--json", "--threshold",
                                     str(s[0])))["clean"]
            rates["flags_per_1k_words"] = flags
            report["clean"][name(s)] = rates
            lines.append(f"| {name(s)} | {rates['edits_per_1k_words']:.2f} (of {rates['words']:,} words) | "
                         f"{rates['flags_per_1k_words']:.1f} |")

    synth_gold = out / "synthetic.gold.jsonl"
    if parts & {"synthetic", "end-to-end"} and not synth_gold.exists():
        mtfix("data", "export", args.data, "--split", args.split, "--source", "synthetic", "-o", str(synth_gold))
        synth_gold.write_text("".join(synth_gold.read_text().splitlines(keepends=True)[:args.synthetic_limit]))
    if "synthetic" in parts:
        lines += ["", f"### Synthetic {args.split}: exact-fix rate per class, given the gold spans", "",
                  "| class | spans | best option is the fix | "
                  + " | ".join(f"fixed at {name(s)}" for s in settings) + " |",
                  "|---|---|---|" + "---|" * len(settings)]
        report["synthetic"] = exact_by_class(synth_gold, args.corrector, settings, args.synthetic_limit)
        for label, r in report["synthetic"].items():
            lines.append(f"| {label} | {r['spans']} | {r['best']:.2f} | "
                         + " | ".join(f"{r['fixed'][name(s)]:.2f}" for s in settings) + " |")
    if "end-to-end" in parts:
        pred = out / "synthetic.fix.jsonl"
        fix(synth_gold, pred, extra)
        report["synthetic_end_to_end"] = end_to_end_by_class(synth_gold, pred, settings, own)
        lines += ["", f"### Synthetic {args.split}: the gold span fixed end to end (the detector's spans, then the "
                  "corrector)", "", "| class | spans | " + " | ".join(f"fixed at {name(s)}" for s in settings) + " |",
                  "|---|---|" + "---|" * len(settings)]
        for label, r in report["synthetic_end_to_end"].items():
            lines.append(f"| {label} | {r['spans']} | " + " | ".join(f"{r['fixed'][name(s)]:.2f}" for s in settings)
                         + " |")

    if args.multi_word:
        multi_gold = out / "multi-word.gold.jsonl"
        if not multi_gold.exists():
            write_multi_word(args.data, args.split, args.multi_word, multi_gold)
        report["multi_word"] = exact_by_class(multi_gold, args.corrector, settings, args.multi_word)
        pred = out / "multi-word.fix.jsonl"
        fix(multi_gold, pred, extra)
        report["multi_word_end_to_end"] = end_to_end_by_class(multi_gold, pred, settings, own)
        lines += ["", f"### Multi-word damage, {args.multi_word} rows made from the {args.split} split's clean "
                  "sentences: the fix given the gold span, and end to end", "",
                  "| class | spans | best option is the fix | "
                  + " | ".join(f"fixed at {name(s)}" for s in settings) + " | "
                  + " | ".join(f"end to end at {name(s)}" for s in settings) + " |",
                  "|---|---|---|" + "---|" * (2 * len(settings))]
        for label, r in report["multi_word"].items():
            e2e = report["multi_word_end_to_end"].get(label, {"fixed": {}})["fixed"]
            lines.append(f"| {label} | {r['spans']} | {r['best']:.2f} | "
                         + " | ".join(f"{r['fixed'][name(s)]:.2f}" for s in settings) + " | "
                         + " | ".join(f"{e2e.get(name(s), 0.0):.2f}" for s in settings) + " |")

    if "apertium" in parts:
        apertium_gold = out / "apertium.gold.jsonl"
        if not apertium_gold.exists():
            mtfix("data", "export", args.data, "--split", args.split, "--source", "apertium", "-o", str(apertium_gold))
            apertium_gold.write_text("".join(apertium_gold.read_text().splitlines(keepends=True)[:args.apertium_limit]))
        pred = out / "apertium.fix.jsonl"
        fix(apertium_gold, pred, extra)
        pivots = "Galician, never trained on" if args.split == "test" else "Spanish, Catalan, Esperanto"
        lines += ["", f"### Apertium round trips, {args.split} ({pivots}"
                  f"; the first {args.apertium_limit} rows): edits against the original English", "",
                  "| min-score | edits | edit P | edit R | chrF round trip -> fixed (delta) |", "|---|---|---|---|---|"]
        for s in settings:
            r = score(apertium_gold, pred, own[s])
            c, x = r["correction"], r["text"]
            report.setdefault("apertium", {})[name(s)] = {"correction": c, "text": x}
            lines.append(f"| {name(s)} | {count_edits(at_swap(pred, own[s][1]), s[0])} | "
                         f"{c['edit_precision']['value']:.3f} | "
                         f"{c['edit_recall']['value']:.3f} | {x['chrf_input']['value']:.2f} -> "
                         f"{x['chrf_fixed']['value']:.2f} ({x['chrf_delta']['value']:+.2f}) |")

    seed = ROOT / "seeds" / "article_backtranslated.txt"
    seed_pred = out / "seed.fix.jsonl"
    fix(seed, seed_pred, extra)
    # the whole article is one document: its bars (min-score and swap bar) follow the document as the default's do
    bar, p = document_bar([json.loads(line) for line in seed_pred.read_text().splitlines()], default,
                          follow_score, shipped_follow(args.fast))
    seed_swap = swap if bar == default else bar
    records = [json.loads(line) for line in at_swap(seed_pred, seed_swap).read_text().splitlines()]
    edits = [e for record in records for e in record["edits"] if e["score"] >= min(thresholds + [bar])]
    report["seed"] = [{"original": e["original"], "replacement": e["replacement"], "score": e["score"]} for e in edits]
    report["seed_bar"], report["seed_mt_probability"] = bar, p
    where = "" if p is None else f", MT probability {p:.3f}"
    lines += ["", f"### Seed article: the edits scored at least {min(thresholds + [bar]):g} (the default in this "
              f"document: {bar:g}{where}; applied: *)", ""]
    lines += [f"- \"{e['original']}\" -> \"{e['replacement']}\" ({e['score']:.2f}){' *' if e['score'] >= bar else ''}"
              for e in edits]
    if args.split == "dev" and {"mlqe", "clean"} <= parts:  # the suggestion reads both
        suggested = suggest(report, [s for s in settings if s[1] is None])
        lines += ["", f"Suggested --min-score: {suggested} (the lowest at which no MLQE-PE pair's "
                  "chrF falls and clean news gets at most 1 edit per 1,000 words)"]
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def suggest(report: dict, settings: list[tuple[float, float | None]]) -> str:
    for s in settings:
        chrf = [v["text"]["chrf_delta"]["value"] for k, v in report["mlqe"].items() if k.endswith(f"@{name(s)}")]
        if all(d >= 0 for d in chrf) and report["clean"][name(s)]["edits_per_1k_words"] <= 1:
            return name(s)
    return "none of those tried"


def count_edits(pred: Path, threshold: float) -> int:
    return sum(1 for line in pred.read_text().splitlines() for e in json.loads(line).get("edits", [])
               if e["score"] >= threshold)


def exact_by_class(gold_path: Path, corrector_path: str | None, settings: list[tuple[float, float | None]],
                   limit: int = 1500) -> dict:
    """Given the gold spans: how often the best option is the gold fix, and how often it is proposed at each
    (--min-score, --swap-score) setting (None: the corrector's own --swap-score)."""
    import mtfix as api
    from mtfix.text.formats import read_documents

    corrector = api.load(fast=True, corrector=corrector_path).corrector
    docs = list(read_documents(str(gold_path)))[:limit]
    counts = exact_counts(docs, corrector, settings)
    return {k: {"spans": v[0], "best": v[1] / v[0],
                "fixed": {name(s): v[2 + j] / v[0] for j, s in enumerate(settings)}}
            for k, v in sorted(counts.items())}


def end_to_end_by_class(gold_path: Path, pred_path: Path, settings: list[tuple[float, float | None]],
                        own: dict) -> dict:
    """Per class: the share of gold spans that `mtfix fix` (the detector's spans, then the corrector) restores,
    at each setting: the edits it keeps (``own`` gives each setting's swap bar) that touch the span, applied,
    give the text the span's gold fix gives."""
    from mtfix.text.formats import read_documents
    from mtfix.text.spans import apply_edits

    counts: dict[str, list[int]] = {}
    preds = {s: list(read_documents(str(at_swap(pred_path, own[s][1])))) for s in settings}
    for i, gold in enumerate(read_documents(str(gold_path))):
        for span in gold.spans:
            if not span.fixes:
                continue
            want = gold.text[:span.start] + span.fixes[0] + gold.text[span.end:]
            c = counts.setdefault(span.label, [0] + [0] * len(settings))
            c[0] += 1
            for j, s in enumerate(settings):
                near = [e for e in preds[s][i].edits if e.score >= s[0] and e.start <= span.end and span.start <= e.end]
                c[1 + j] += int(bool(near) and apply_edits(gold.text, near) == want)
    return {k: {"spans": v[0], "fixed": {name(s): v[1 + j] / v[0] for j, s in enumerate(settings)}}
            for k, v in sorted(counts.items())}


def write_multi_word(data: str, split: str, count: int, path: Path) -> None:
    """``count`` rows of multi-word damage from ``split``'s clean sentences (seeded), as gold JSONL."""
    import datasets

    from mtfix.data.build import multi_word_rows
    from mtfix.text.formats import Document, write_jsonl
    from mtfix.text.spans import Span

    rows = multi_word_rows(datasets.load_from_disk(data)[split], count, seed=11)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            spans = [Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],)) for s in row["spans"]]
            write_jsonl([Document(row["text"], spans, row["reference"], row["source"]).to_json()], f)


def exact_counts(docs: list, corrector, settings: list[tuple[float, float | None]]) -> dict[str, list[int]]:
    """Per class of the documents' gold spans: [spans, best option is the gold fix, the gold fix proposed at
    each (--min-score, --swap-score) setting (None: the corrector's own --swap-score)]."""
    found = corrector.candidates([d.text for d in docs], [d.spans for d in docs])
    own_swap = corrector.swap_score
    counts: dict[str, list[int]] = {}
    for doc, per_text in zip(docs, found):
        for span, options in per_text:
            ranked = corrector.choose(options)
            want = span.fixes[0] if span.fixes else None
            right = bool(ranked) and ranked[0][0].replacement == want
            c = counts.setdefault(span.label, [0, 0] + [0] * len(settings))
            c[0] += 1
            c[1] += int(right)
            for j, (low, swap) in enumerate(settings):  # what `mtfix fix --min-score low --swap-score swap` does
                corrector.min_score, corrector.swap_score = low, own_swap if swap is None else swap
                c[2 + j] += int(right and corrector.accepts(doc.text[span.start:span.end], *ranked[0]))
    corrector.swap_score = own_swap
    return counts


if __name__ == "__main__":
    main()

"""Compare correctors on held-out dev, fit the reranking stage, and choose the default --min-score.

    python scripts/eval_corrector.py fit --corrector runs/corrector --data runs/data/dataset
    python scripts/eval_corrector.py compare --data runs/data/dataset --variant seq2seq=runs/corrector \
        --variant scratch=runs/corrector-scratch --variant rerank=runs/corrector+rerank -o runs/corrector-dev.md

Dev rows used for a corrector's calibration (see mtfix.training.span_decoder.sampled_rows) are left out; the rest
are halved by a hash of the text: "fit" (the reranker's weights and each variant's --min-score) and "eval"
(the comparison). Each slice holds the gold spans of synthetic, MLQE-PE and apertium rows, and as many "keep"
spans on unflagged words (what a detector's false flags look like): an edit there is a false edit.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from mtfix.correct.base import Option, Rerank
from mtfix.correct.guards import lm_window, span_traits, unfounded
from mtfix.correct.rerank import fit_rerank
from mtfix.correct.span_decoder import Corrector
from mtfix.models import is_rewriter
from mtfix.points import read_points, write_points
from mtfix.score import Settings, score
from mtfix.text.formats import Document
from mtfix.text.spans import Edit, Span
from mtfix.text.tokens import tokenize
from mtfix.training.common import family
from mtfix.training.span_decoder import CorrectorTrainConfig, sampled_rows

FAMILIES = ("synthetic", "mlqe-pe", "apertium")
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def dev_slices(data: str, corrector: str, per_family: int | dict[str, int], split: str = "dev",
               detector: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The fit and eval slices: rows none of whose text the corrector's calibration saw (dev), or, with
    ``split="train"``, train rows that neither the corrector's decoder nor the detector's tagger trained on (their
    training draws are reproduced from each model's training.json): more rows to fit on than dev has, while dev
    stays for choosing the default."""
    import datasets

    from mtfix.models import shipped_corrector, shipped_detector
    from mtfix.training.evidence import tagger_training_rows

    dd = datasets.load_from_disk(data)
    if not (Path(corrector) / "training.json").exists():  # the LM rewriter trained on train rows only: keep the
        corrector = str(shipped_corrector())                # span decoder's calibration rows out, as for it
    record = json.loads((Path(corrector) / "training.json").read_text())["config"]
    config = CorrectorTrainConfig(**{k: v for k, v in record.items() if k in CorrectorTrainConfig.__annotations__})
    _, _, trained, calibration = sampled_rows(dd, config)
    seen = {r["text"] for r in calibration}
    if split == "train":
        tagger_rows = tagger_training_rows(dd["train"], detector or shipped_detector())
        seen = {r["text"] for r in trained} | {r["text"] for r in tagger_rows}
    wanted = per_family if isinstance(per_family, dict) else {f: per_family for f in FAMILIES}
    slices: dict[str, list[dict[str, Any]]] = {"fit": [], "eval": []}
    counts = {(s, f): 0 for s in slices for f in FAMILIES}
    for row in dd[split]:
        fam = family(row["source"])
        if fam not in FAMILIES or row["text"] in seen or not any(s["fix"] is not None for s in row["spans"]):
            continue
        which = "fit" if int(hashlib.sha1(row["text"].encode()).hexdigest(), 16) % 2 else "eval"
        if counts[(which, fam)] < wanted.get(fam, 0):
            counts[(which, fam)] += 1
            slices[which].append(row)
        if all(counts[k] >= wanted.get(k[1], 0) for k in counts):
            break
    return slices


def per_family_arg(value: str) -> int | dict[str, int]:
    """--per-family: rows of each family (N), or per family as JSON ({"mlqe-pe": 600, "synthetic": 200})."""
    try:
        return int(value)
    except ValueError:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not all(isinstance(v, int) for v in parsed.values()):
            raise argparse.ArgumentTypeError(f"expected a number or a JSON object of numbers, got {value!r}")
        return parsed


def touches(a: Any, others: Sequence[Any]) -> bool:
    """Whether span or token ``a`` overlaps any of ``others`` (or starts where one does: an insertion point)."""
    return any(a.start < s.end and s.start < a.end or a.start == s.start for s in others)


def probes(rows: Sequence[dict[str, Any]], seed: int = 7, detected: Sequence[Sequence[Span]] | None = None
           ) -> tuple[list[Document], list[list[Span]]]:
    """Gold documents, and the spans to correct: every gold span with a fix, and spans to keep (an edit there is
    a false edit): the detector's false flags (``detected`` spans that touch no gold span: rare words and names,
    what the corrector meets on real text), topped up with unflagged words to as many as the gold spans."""
    rng = random.Random(seed)
    golds, spans = [], []
    for n, row in enumerate(rows):
        text = row["text"]
        gold = [Span(s["start"], s["end"], s["label"], fixes=(s["fix"],)) for s in row["spans"] if s["fix"] is not None]
        golds.append(Document(text, gold, reference=row["reference"]))
        false = [Span(d.start, d.end, "keep") for d in (detected[n] if detected else []) if not touches(d, gold)]
        free = [t for t in tokenize(text) if not touches(t, gold) and not touches(t, false)]
        keeps = rng.sample(free, min(len(free), max(0, len(gold) - len(false))))
        spans.append([Span(s.start, s.end, s.label) for s in gold] + false
                     + [Span(t.start, t.end, "keep") for t in keeps])
    return golds, spans


def false_flags(rows: Sequence[dict[str, Any]], detector: str | None) -> list[list[Span]]:
    """The shipped (or given) detector's spans on each row, at its default threshold."""
    import mtfix as api

    return api.load(model=detector, alone=True).detect([row["text"] for row in rows])  # unrelated rows: alone


def load(spec: str, min_score: float | None = 0.0) -> Corrector:
    """A corrector folder (+rerank: a span decoder with its reranking stage); LM rewriter adapters are read as
    the RewriteCorrector, with its own reranking stage."""
    from mtfix.correct.rewriter import RewriteCorrector
    from mtfix.models import is_rewriter

    path, _, mode = spec.partition("+")
    if is_rewriter(path):
        return RewriteCorrector.load(path, min_score=min_score)
    return Corrector.load(path, rerank=(mode == "rerank"), min_score=min_score)


def run(corrector: Corrector, golds: Sequence[Document], spans: Sequence[list[Span]]
        ) -> tuple[list[list[tuple[Span, list[Option]]]], float]:
    started = time.time()
    found = corrector.candidates([g.text for g in golds], spans)
    return found, time.time() - started


def predictions(corrector: Corrector, golds: Sequence[Document], found: Any) -> list[Document]:
    """Each span's best option as an edit with its calibrated score (min-score applied later, by threshold)."""
    from mtfix.correct.guards import deletion_extent

    preds = []
    for gold, per_text in zip(golds, found):
        edits = []
        for span, options in per_text:
            ranked = corrector.choose(options)
            if ranked:
                best, p = ranked[0]
                start, end = deletion_extent(gold.text, span.start, span.end) if not best.replacement else \
                    (span.start, span.end)
                edits.append(Edit(start, end, best.replacement, p))
        preds.append(Document(gold.text, [s for s, _ in per_text], edits=edits))
    return preds


def exact_rates(golds: Sequence[Document], found: Any, corrector: Corrector, rows: Sequence[dict[str, Any]]
                ) -> dict[str, float]:
    """Per family: how often the best option of a gold span is its fix (the keep decision aside)."""
    hits: dict[str, list[int]] = {}
    for gold, per_text, row in zip(golds, found, rows):
        fixes = {(s.start, s.end): s.fixes[0] for s in gold.spans}
        for span, options in per_text:
            if (span.start, span.end) not in fixes or span.label == "keep":
                continue
            ranked = corrector.choose(options)
            right = int(bool(ranked) and ranked[0][0].replacement == fixes[(span.start, span.end)])
            hits.setdefault(family(row["source"]), []).append(right)
            hits.setdefault("all", []).append(right)
    return {k: sum(v) / len(v) for k, v in sorted(hits.items())}


def best_threshold(golds: Sequence[Document], preds: Sequence[Document]) -> tuple[float, dict[str, Any]]:
    """The --min-score with the best edit F0.5 (ties: the higher threshold)."""
    best = (-1.0, 0.5, {})
    for t in THRESHOLDS:
        result = score(golds, preds, Settings(threshold=t, bootstrap=0))
        f = result["correction"]["edit_f05"]["value"]
        if f >= best[0]:
            best = (f, t, result)
    return best[1], best[2]


def fit_logistic(golds: Sequence[Document], found: Any, kinds: Sequence[str]) -> Rerank:
    """The first reranker, kept as the baseline: a logistic regression of 'this option is the gold fix' on the two
    gains, the word count and the kind, then Platt scaling of each span's best option."""
    from mtfix.training.calibration import fit_platt

    x, y = [], []
    for gold, per_text in zip(golds, found):
        fixes = {(s.start, s.end): s.fixes[0] for s in gold.spans}
        for span, options in per_text:
            want = fixes.get((span.start, span.end)) if span.label != "keep" else None
            for o in options:
                x.append([o.corrector_gain, o.lm_gain, float(o.words_delta), *[float(o.kind == k) for k in kinds]])
                y.append(float(o.replacement == want))
    xs, ys = torch.tensor(x), torch.tensor(y)
    w = torch.zeros(xs.size(1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=300)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xs @ w + b, ys) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(step)
    weights = w.detach().tolist()
    rerank = Rerank(s2s=weights[0], lm=weights[1], length=weights[2], kinds=dict(zip(kinds, weights[3:])),
                    bias=float(b.detach()))
    z, hit = [], []
    for gold, per_text in zip(golds, found):
        fixes = {(s.start, s.end): s.fixes[0] for s in gold.spans}
        for span, options in per_text:
            if options:
                best = max(options, key=rerank.z)
                z.append(rerank.z(best))
                hit.append(int(span.label != "keep" and best.replacement == fixes.get((span.start, span.end))))
    rerank.temperature, rerank.top_bias = fit_platt(torch.tensor(z), torch.tensor(hit))
    return rerank


def cached_options(args: argparse.Namespace, corrector: Corrector, golds: Sequence[Document],
                   spans: Sequence[list[Span]]) -> tuple[Any, float]:
    """The fit slice's options, from --cache when it has them; options and traits as the code defines them now.
    An LM rewriter's options are cached before its guards (so that each guard can be measured: guard_table)."""
    if args.cache and args.cache.exists():
        found, seconds = torch.load(args.cache, weights_only=False), 0.0
    else:
        corrector.guards = False
        found, seconds = run(corrector, golds, spans)
        corrector.guards = True
        if args.cache:
            torch.save(found, args.cache)
    from mtfix.correct.rewriter import guarded

    guard = guarded if hasattr(corrector, "rewriter") else unfounded  # each corrector's own guards
    for gold, per_text in zip(golds, found):  # the options and traits as defined now (they are cheap)
        for k, (span, options) in enumerate(per_text):
            window = lm_window(gold.text, span)
            options = [o for o in options if not guard(gold.text, span, o.replacement, window)]
            span_traits(gold.text, span, options, window)
            per_text[k] = (span, options)
    return found, seconds


def cmd_crossval(args: argparse.Namespace) -> int:
    """Two-fold cross-validation of the rerankers on the fit slice (same options): edits right / wrong / on spans
    to keep, per family and threshold. Right: the span's choice_targets option."""
    from mtfix.correct.rerank import choice_targets

    rows = dev_slices(args.data, args.corrector, args.per_family, args.split, args.detector)["fit"]
    golds, spans = probes(rows, detected=false_flags(rows, args.detector) if args.false_flags else None)
    corrector = load(args.corrector if is_rewriter(args.corrector) else args.corrector + "+rerank")
    found, _ = cached_options(args, corrector, golds, spans)
    targets = choice_targets(golds, found)
    kinds = sorted({o.kind for per_text in found for _, options in per_text for o in options})
    fold = [int(hashlib.md5(g.text.encode()).hexdigest(), 16) % 2 for g in golds]  # sha1 made the slices
    counts: dict[tuple[str, float, str], list[int]] = {}

    def tally(name: str, scored: Sequence[int]) -> None:
        for i in scored:
            for (span, options), want in zip(found[i], targets[i]):
                ranked = corrector.choose(options)
                for t in THRESHOLDS:
                    if ranked and ranked[0][1] >= t:
                        c = counts.setdefault((name, t, family(rows[i]["source"])), [0, 0, 0])
                        right = span.label != "keep" and want and ranked[0][0] is options[want - 1]
                        c[2 if span.label == "keep" else 0 if right else 1] += 1

    for k in (0, 1):
        train = [i for i in range(len(golds)) if fold[i] != k]
        for name, fitter in (("logistic + Platt (first version)", fit_logistic),
                             ("conditional logit + traits", fit_rerank)):
            corrector.rerank = fitter([golds[i] for i in train], [found[i] for i in train], kinds)
            tally(name, [i for i in range(len(golds)) if fold[i] == k])
    for path in args.saved:  # a reranker fitted before, as it is (on both folds: not fitted on these options)
        corrector.rerank = Rerank.load(Path(path))
        if corrector.rerank is None:
            raise SystemExit(f"error: no reranker in {path}")
        tally(f"saved: {path}", range(len(golds)))
    lines = ["| reranker | min-score | " + " | ".join(f"{f}: right / wrong / on kept" for f in FAMILIES) + " |",
             "|---|---|" + "---|" * len(FAMILIES)]
    for name in dict.fromkeys(n for n, _, _ in counts):
        for t in THRESHOLDS:
            cells = ["{} / {} / {}".format(*counts.get((name, t, f), [0, 0, 0])) for f in FAMILIES]
            lines.append(f"| {name} | {t:g} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit the reranker on the fit slice and choose both modes' --min-score there; write them into the folder."""
    slices = dev_slices(args.data, args.corrector, args.per_family, args.split, args.detector)
    rows = slices["fit"]
    golds, spans = probes(rows, detected=false_flags(rows, args.detector) if args.false_flags else None)
    log(f"fit slice: {len(rows)} rows, {sum(map(len, spans))} spans, {sum(len(g.spans) for g in golds)} of them "
        "gold spans")
    if not args.rerank_only and not is_rewriter(args.corrector):
        plain = Corrector.load(args.corrector, rerank=False, min_score=0.0)
        found, _ = run(plain, golds, spans)
        t_plain, _ = best_threshold(golds, predictions(plain, golds, found))
        write_points(args.corrector, plain_min_score=t_plain)
        log(f"seq2seq alone: min-score {t_plain}")
    if args.no_rerank:
        return 0
    rerank = load(args.corrector if is_rewriter(args.corrector) else args.corrector + "+rerank")
    rerank.rerank = Rerank(softmax=True)
    found, seconds = cached_options(args, rerank, golds, spans)
    raw = torch.load(args.cache, weights_only=False) if args.cache and is_rewriter(args.corrector) else None
    kinds = sorted({o.kind for per_text in found for _, options in per_text for o in options})
    rerank.rerank = fit_rerank(golds, found, kinds)
    exact = exact_rates(golds, found, rerank, rows)
    log("fit slice, best option is the fix: " + ", ".join(f"{k} {v:.3f}" for k, v in exact.items()))
    # the default is chosen afterwards by scripts/eval_fix.py on MLQE-PE dev (chrF), not on this slice (F0.5 on
    # this slice picked the lowest threshold for every variant, at a chrF cost on MLQE-PE dev)
    rerank.rerank.min_score, rerank.rerank.swap_score = args.min_score, args.swap_score
    rerank.rerank.save(Path(args.corrector) / "rerank.json")
    log(f"rerank: {json.dumps(rerank.rerank.__dict__)} ({seconds:.0f} s)")
    sweep = sweep_table(golds, found, rerank, rows)
    if raw is not None:
        sweep += "\n\nGuards (each rule of `unfounded`), at --min-score 0.5:\n\n" + guard_table(golds, raw, rerank, 0.5)
    print(sweep)
    if args.sweep:
        Path(args.sweep).write_text(sweep + "\n")
    return 0


def guard_table(golds: Sequence[Document], raw: Any, corrector: Corrector, threshold: float) -> str:
    """Each rule of ``unfounded`` against the LM rewriter: of the spans where the best option with no guard at all
    reaches ``threshold``, how many such edits the rule takes away that were right (the gold fix) and that were
    wrong (another fix, or an edit on a span to keep). A rule earns its place when it takes away more wrong
    edits than right ones."""
    from mtfix.correct import guards as rules

    checks = {
        "is_code": lambda t, s, r, w: rules.is_code(t[s.start:s.end]),
        "is_stub": lambda t, s, r, w: rules.is_stub(t[s.start:s.end], r),
        "misreads": lambda t, s, r, w: rules.misreads(t[s.start:s.end], r),
        "spelling_variant": lambda t, s, r, w: rules.spelling_variant(t[s.start:s.end], r),
        "deletes_words": lambda t, s, r, w: rules.deletes_words(t, s, r),
        "wipes_repeat": lambda t, s, r, w: rules.wipes_repeat(t, s, r),
        "drops_capitals": lambda t, s, r, w: rules.drops_capitals(
            t[s.start:s.end], r, [x.text for x in tokenize(rules._around(t, s, w))]),
        "invents": lambda t, s, r, w: rules.invents(r, [x.text for x in tokenize(t[w[0]:w[1]])]),
        "loses_content": lambda t, s, r, w: rules.loses_content(t, s, r, w),
    }
    counts = {name: [0, 0] for name in checks}
    for gold, per_text in zip(golds, raw):
        fixes = {(s.start, s.end): s.fixes[0] for s in gold.spans}
        for span, options in per_text:
            if not options:
                continue
            window = lm_window(gold.text, span)
            span_traits(gold.text, span, options, window)
            best, p = corrector.choose(options)[0]
            if p < threshold:
                continue
            right = span.label != "keep" and best.replacement == fixes.get((span.start, span.end))
            for name, check in checks.items():
                if check(gold.text, span, best.replacement, window):
                    counts[name][0 if right else 1] += 1
    lines = ["| guard | right edits it takes away | wrong edits it takes away |", "|---|---|---|"]
    lines += [f"| {name} | {r} | {w} |" for name, (r, w) in counts.items()]
    return "\n".join(lines)


def sweep_table(golds: Sequence[Document], found: Any, corrector: Corrector, rows: Sequence[dict[str, Any]]) -> str:
    """Per --min-score and family: edits that are the gold fix (right), other edits on gold spans (wrong), edits
    on spans to keep (false), and the gold spans (of which right is the share fixed)."""
    counts: dict[tuple[float, str], list[int]] = {}
    for gold, per_text, row in zip(golds, found, rows):
        fixes = {(s.start, s.end): s.fixes[0] for s in gold.spans}
        fam = family(row["source"])
        for span, options in per_text:
            is_gold = span.label != "keep" and (span.start, span.end) in fixes
            ranked = corrector.choose(options)
            for t in THRESHOLDS:
                c = counts.setdefault((t, fam), [0, 0, 0, 0])
                c[3] += int(is_gold)
                if ranked and corrector.accepts(gold.text[span.start:span.end], ranked[0][0], ranked[0][1]) \
                        and ranked[0][1] >= t:
                    right = is_gold and ranked[0][0].replacement == fixes[(span.start, span.end)]
                    c[0 if right else 1 if is_gold else 2] += 1
    lines = ["| min-score | " + " | ".join(f"{f}: right / wrong / false of gold" for f in FAMILIES) + " |",
             "|---|" + "---|" * len(FAMILIES)]
    for t in THRESHOLDS:
        cells = ["{} / {} / {} of {}".format(*counts.get((t, f), [0, 0, 0, 0])) for f in FAMILIES]
        lines.append(f"| {t:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    """Each variant on the eval slice: exact-fix rate of gold spans, edits at its own --min-score, speed."""
    first = args.variant[0].split("=", 1)[1].partition("+")[0]
    rows = dev_slices(args.data, first, args.per_family, args.split)["eval"]
    golds, spans = probes(rows)
    n_spans = sum(map(len, spans))
    lines = [f"Held-out dev ({len(rows)} rows: {args.per_family} each of {', '.join(FAMILIES)}; {n_spans} spans, "
             "half of them gold spans, half unflagged words that should be kept). Exact: the best option is the "
             "gold fix (keep decision aside). Edits at the variant's own --min-score (chosen on the fit slice).",
             "", "| variant | exact, all | synthetic | MLQE-PE | apertium | min-score | edit P | edit R | edit F0.5 | "
             "chrF delta | ms per span |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    report: dict[str, Any] = {}
    sweeps: list[str] = []
    for spec in args.variant:
        name, path = spec.split("=", 1)
        corrector = load(path)
        threshold = corrector.rerank.min_score if corrector.rerank else \
            read_points(path.split("+")[0]).get("plain_min_score", 0.5)
        found, seconds = run(corrector, golds, spans)
        exact = exact_rates(golds, found, corrector, rows)
        result = score(golds, predictions(corrector, golds, found), Settings(threshold=threshold, bootstrap=0))
        c, t = result["correction"], result["text"]
        report[name] = {"exact": exact, "min_score": threshold, "correction": c, "chrf_delta": t["chrf_delta"],
                        "ms_per_span": 1000 * seconds / n_spans}
        lines.append(f"| {name} | {exact.get('all', 0):.3f} | {exact.get('synthetic', 0):.3f} | "
                     f"{exact.get('mlqe-pe', 0):.3f} | {exact.get('apertium', 0):.3f} | {threshold:g} | "
                     f"{c['edit_precision']['value']:.3f} | {c['edit_recall']['value']:.3f} | "
                     f"{c['edit_f05']['value']:.3f} | {t['chrf_delta']['value']:+.2f} | "
                     f"{1000 * seconds / n_spans:.0f} |")
        log(lines[-1])
        sweeps.append(f"\n{name}, edits per --min-score:\n\n" + sweep_table(golds, found, corrector, rows))
    text = "\n".join(lines) + "\n" + "\n".join(sweeps) + "\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text)
        Path(args.output).with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


def slice_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--per-family", type=per_family_arg, default=120,
                   help="rows of each family per slice: N, or JSON per family (default %(default)s)")
    p.add_argument("--split", choices=["dev", "train"], default="dev",
                   help="take the slices from dev, or from train rows neither model trained on")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("fit", help="fit the reranker and choose --min-score on the fit slice")
    p.add_argument("--corrector", required=True)
    p.add_argument("--data", required=True)
    slice_arguments(p)
    p.add_argument("--no-rerank", action="store_true", help="only choose the seq2seq --min-score")
    p.add_argument("--min-score", type=float, default=0.5, help="the reranker's default --min-score")
    p.add_argument("--swap-score", type=float, default=None,
                   help="the reranker's default bar for meaning swaps (mtfix fix --swap-score)")
    p.add_argument("--rerank-only", action="store_true", help="keep the seq2seq --min-score already chosen")
    p.add_argument("--false-flags", action="store_true",
                   help="spans to keep from the detector's false flags (else unflagged words only)")
    p.add_argument("--detector", help="the detector for --false-flags (default: the shipped one)")
    p.add_argument("--cache", type=Path, help="keep the fit slice's scored options here (refitting is then instant)")
    p.add_argument("--sweep", help="write the fit slice's table of edits per --min-score here (Markdown)")
    p.set_defaults(func=cmd_fit)
    p = sub.add_parser("crossval", help="two-fold cross-validation of the rerankers on the fit slice")
    p.add_argument("--corrector", required=True)
    p.add_argument("--data", required=True)
    slice_arguments(p)
    p.add_argument("--false-flags", action="store_true")
    p.add_argument("--detector")
    p.add_argument("--cache", type=Path)
    p.add_argument("--saved", action="append", default=[], metavar="RERANK_JSON",
                   help="also score this saved reranker, unchanged, on both folds (e.g. one fitted on another "
                        "decoder's options; repeatable)")
    p.set_defaults(func=cmd_crossval)
    p = sub.add_parser("compare", help="compare variants on the eval slice")
    p.add_argument("--data", required=True)
    p.add_argument("--variant", action="append", required=True,
                   help="NAME=FOLDER, or NAME=FOLDER+rerank for the reranking stage")
    slice_arguments(p)
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_compare)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

"""The language-model evidence, measured: trade-off curves of the tagger, the zero-shot LM and the fused detector
at the same clean-news false-flag rates, and an ablation that drops one evidence group at a time.

Run it after eval_detector.py has written the gold files into the same folder; it computes the evidence of every
gold file once (cached), writes the `lm` and `fused` predictions at their default thresholds there (so that a
second eval_detector.py run with --methods fused,model,lm,... reuses them), and prints Markdown tables:

    python scripts/eval_detector.py --data runs/data/dataset --split test --model models/detector \\
        --methods model,spell,all-bad,all-ok --out runs/eval-test
    python scripts/eval_fused.py --data runs/data/dataset --model models/detector --eval runs/eval-test
    python scripts/eval_detector.py --data runs/data/dataset --split test --model models/detector \\
        --methods fused,model,lm,spell,all-bad,all-ok --out runs/eval-test

Thresholds for the curves come from dev clean news (never from the data scored); every number is from
mtfix.score, the code behind `mtfix score`. A head fitted with document context (its config's "context") reads
each gold segment after its own document's previous sentences where they are known, the demo article's lines as
one document, and MLQE-PE alone (its default predictions at the head's threshold for text read alone, as
`mtfix detect` flags JSONL records).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ["ro-en", "et-en", "ne-en", "si-en", "ru-en"]
RATES = (1.0, 2.0, 3.0, 10.0)
CLASSES = ("pivot", "calque", "casing", "non-word", "fused", "hyphen", "pronoun", "article", "preposition",
           "repetition", "dropped", "verb-order")


def documents(path: Path) -> list:
    from mtfix.text.formats import Document, read_documents

    if path.suffix == ".txt":
        return [Document(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return list(read_documents(str(path)))


def contexts_for(name: str, docs: list, count: int) -> list[str] | None:
    """What the language model reads before each document of set ``name`` for a head fitted with ``count``
    previous sentences (None: 0, every segment alone): the demo article's lines are one document; a gold file's
    segments are data-set rows from many documents, each read after its own document's sentences where known."""
    if not count:
        return None
    if name == "seed":
        from mtfix.detect.fuse import document_contexts

        return document_contexts([d.text for d in docs], count)
    from mtfix.training.evidence import rows_in_context

    return rows_in_context([{"text": d.text, "reference": d.reference or ""} for d in docs], count)


def evidence(detector, docs: list, cache: Path, contexts: list[str] | None = None) -> list:
    """(WordScores, tagger probabilities) per document (each after its context, where given), computed once."""
    if cache.exists():
        return torch.load(cache, weights_only=False)
    from rich.progress import track

    texts = [d.text for d in docs]
    found = []
    for b in track(range(0, len(texts), 64), description=f"evidence {cache.stem}", console=None):
        found += detector.evidence(texts[b:b + 64], None if contexts is None else contexts[b:b + 64])
    torch.save(found, cache)
    return found


def uncalibrated(logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits)


def probabilities(method: str, ev: list, features: list, head=None, columns=None,
                  calibrate=uncalibrated, gate: float = 0.0) -> list[list[float]]:
    """Word P(BAD) of one method from the shared evidence (``features``: fuse.word_features of each segment);
    ``calibrate`` (logits, features) -> P: the shipped head's is its config's word_probability (calibration and
    non-word floor); ``gate``: the fused detector's LM gate (a segment whose highest tagger P(BAD) is under it keeps
    the tagger's P(BAD), as `mtfix detect` gives it)."""
    from mtfix.detect.fuse import line_groups, lm_gated, select

    out = []
    for (scores, tagger), x in zip(ev, features):
        if method == "tagger":
            out.append(list(tagger))
        elif method == "lm":
            out.append([s / 16.0 for s in scores.surprisal])  # unclipped: the curve needs the ranking
        elif x is None:
            out.append([])
        elif lm_gated(tagger, gate):
            out.append(list(tagger))
        else:
            with torch.inference_mode():
                out.append(calibrate(head(select(x, columns), line_groups(scores)), x).tolist())
    return out


def predictions(docs: list, ev: list, probs: list[list[float]], threshold: float) -> list:
    from mtfix.text.formats import Document
    from mtfix.text.spans import word_spans

    return [Document(d.text, word_spans(scores.tokens, p, threshold), id=d.id)
            for d, (scores, _), p in zip(docs, ev, probs)]


def threshold_for(probs: list[list[float]], per_1k: float) -> float:
    from mtfix.training.calibration import clean_threshold

    return clean_threshold(torch.tensor([p for doc in probs for p in doc]), per_1k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the DatasetDict folder of mtfix data build")
    parser.add_argument("--model", default=str(ROOT / "models" / "detector"), help="tagger folder, head in fused/")
    parser.add_argument("--eval", type=Path, required=True, help="the --out folder of eval_detector.py")
    parser.add_argument("--lm-gate", type=float, default=None,
                        help="score the fused detector with this language-model gate, next to it without (default: "
                             "the model's own; 0: none)")
    parser.add_argument("--fusion-evidence", default="runs/fusion/evidence.pt",
                        help="the evidence the head was trained on (for the ablation's retrained heads)")
    parser.add_argument("--ablation", default="all",
                        help="the evidence groups to drop one at a time, comma-separated ('all': every group; "
                             "'none': no ablation)")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=FOLDER",
                        help="another fusion head (a fused/ folder) scored on the same evidence, e.g. the head "
                             "shipped before (repeatable)")
    args = parser.parse_args()
    from mtfix.detect.fuse import FEATURES, GROUPS, FusedDetector
    from mtfix.score import Settings, clean_rates, score
    from mtfix.text.formats import write_jsonl

    out = args.eval
    detector = FusedDetector.load(args.model, str(Path(args.model) / "fused"))
    # the evidence of every segment, for every method; the gate is applied to the probabilities (every threshold
    # on the curves lies above any gate worth trying, so the gate is not lowered with them as `mtfix detect` would)
    gate, detector.lm_gate = detector.lm_gate if args.lm_gate is None else args.lm_gate, 0.0
    dev_news = out / "news-dev.gold.jsonl"
    if not dev_news.exists():
        subprocess.run([sys.executable, "-m", "mtfix", "data", "export", args.data, "--split", "dev", "--source",
                        "clean:abc-,clean:state-union", "-o", str(dev_news)], check=True)
    sets = {"news-dev": dev_news, "clean": out / "clean.gold.jsonl", "synthetic": out / "synthetic.gold.jsonl",
            "apertium": out / "apertium.gold.jsonl", "seed": ROOT / "seeds" / "article_backtranslated.txt",
            **{pair: out / f"{pair}.gold.jsonl" for pair in PAIRS}}
    docs = {name: documents(path) for name, path in sets.items()}
    docs["news-dev"] = docs["news-dev"][:2000]
    read = f"-context{detector.context}" if detector.context else ""  # evidence read in context is cached apart
    ev = {name: evidence(detector, d, out / f"evidence-{name}{read}.pt", contexts_for(name, d, detector.context))
          for name, d in docs.items()}

    # the methods: tagger, zero-shot LM, the shipped fused head, and heads retrained without one evidence group
    shipped = {"method": "fused", "head": detector.head, "columns": detector.config.features,
               "calibrate": detector.config.word_probability}
    methods = {"tagger": {"method": "tagger"}, "lm": {"method": "lm"}, "fused": {**shipped, "gate": gate}}
    if gate > 0:  # the default reads with the LM gate; the same head without it, for comparison
        methods["fused, no LM gate"] = shipped
    from mtfix.detect.fuse import load_fusion

    for spec in args.compare:
        name, _, folder = spec.partition("=")
        other, other_config = load_fusion(Path(folder))
        if other_config.context != detector.context:
            parser.error(f"--compare {spec}: that head reads {other_config.context} previous sentences, the "
                         f"model's {detector.context}; heads compared share one reading of the evidence")
        methods[f"fused {name}"] = {"method": "fused", "head": other, "columns": other_config.features,
                                    "calibrate": other_config.word_probability, "gate": other_config.lm_gate}
    dropped = list(GROUPS) if args.ablation == "all" else [g for g in args.ablation.split(",") if g and g != "none"]
    unknown = [g for g in dropped if g not in GROUPS]
    if unknown:
        parser.error(f"no evidence group {', '.join(unknown)}; choose among {', '.join(GROUPS)}")
    fusion_ev = Path(args.fusion_evidence)
    if fusion_ev.exists() and dropped:
        from mtfix.detect.fuse import select
        from mtfix.training.evidence import FusionTrainConfig, evidence_groups, join_evidence, train_evidence_path
        from mtfix.training.fusion import fit_head, fit_stacked, fusion_weights, second_stage_weights

        fusion = torch.load(fusion_ev)
        record = json.loads((Path(args.model) / "fused" / "training.json").read_text())
        config = FusionTrainConfig(**{"members": 1, "stack": None, "stack_weight": None,  # (older heads)
                                      **record["config"], "hidden": tuple(record["config"]["hidden"])})
        if config.train_mix:  # the head fitted on train rows the tagger never saw too: so do these
            fusion = join_evidence(fusion, torch.load(train_evidence_path(fusion_ev)))
        data = fusion["train"]
        weights = fusion_weights(fusion, config)
        for group in dropped:
            names = GROUPS[group]
            columns = [f for f in FEATURES if f not in names]
            if config.stack is None:
                head = fit_head(select(data["x"], columns), data["y"], weights, record["chosen_hidden"],
                                config.epochs, config.seed, config.members)
            else:  # stacked as the shipped head is
                head = fit_stacked(select(data["x"], columns), data["y"], weights, data["segment"],
                                   evidence_groups(data), record["chosen_hidden"], config.stack, config.epochs,
                                   config.seed, config.members, second_stage_weights(fusion, config))
            methods[f"fused without {group}"] = {"method": "fused", "head": head, "columns": columns}
    from mtfix.detect.fuse import word_features

    features = {name: [word_features(scores, tagger) if scores.tokens else None for scores, tagger in found]
                for name, found in ev.items()}  # once per segment, shared by every head
    probs = {m: {name: probabilities(spec["method"], ev[name], features[name], spec.get("head"),
                                     spec.get("columns"), spec.get("calibrate", uncalibrated),
                                     spec.get("gate", 0.0)) for name in docs}
             for m, spec in methods.items()}

    settings = Settings(bootstrap=0)
    curve = ["| method | dev news flags/1k | held-out news flags/1k | MLQE-PE test MCC (pooled) | synthetic recall "
             "(all classes) | pivot | calque | casing | non-word | pronoun | article |", "|---" * 11 + "|"]
    report: dict = {}
    pooled_gold = [g for pair in PAIRS for g in docs[pair]]
    for m in methods:
        for rate in RATES:
            threshold = threshold_for(probs[m]["news-dev"], rate)
            pred = {name: predictions(docs[name], ev[name], probs[m][name], threshold)
                    for name in ("clean", "synthetic", *PAIRS)}  # the sets this table scores
            held = clean_rates(pred["clean"])["flags_per_1k_words"]
            mcc = score(pooled_gold, [p for pair in PAIRS for p in pred[pair]], settings)
            mcc = mcc["detection"]["word_mcc"]["value"]
            synth = score(docs["synthetic"], pred["synthetic"], settings)
            labels = synth.get("by_label", {})
            words = sum(v["words"] for v in labels.values())
            recall = sum(v["word_recall"] * v["words"] for v in labels.values()) / max(words, 1)
            report[f"{m}@{rate}"] = {"threshold": threshold, "held_out_news": held, "mlqe_mcc": mcc,
                                     "synthetic_recall": recall, "by_label": labels}
            cells = " | ".join(f"{labels.get(c, {}).get('word_recall', 0):.2f}"
                               for c in ("pivot", "calque", "casing", "non-word", "pronoun", "article"))
            curve.append(f"| {m} | {rate:g} | {held:.1f} | {mcc:.3f} | {recall:.3f} | {cells} |")
            print(curve[-1], file=sys.stderr, flush=True)

    # the ablation, per class, at the default rate (3 per 1,000 dev clean-news words)
    ablation = ["| class | " + " | ".join(m for m in methods if m.startswith("fused")) + " |",
                "|---" * (1 + sum(m.startswith("fused") for m in methods)) + "|"]
    for c in CLASSES:
        row = [f"{report[f'{m}@3.0']['by_label'].get(c, {}).get('word_recall', 0):.2f}" for m in methods
               if m.startswith("fused")]
        ablation.append(f"| {c} | " + " | ".join(row) + " |")
    ablation.append("| MLQE-PE test MCC | " + " | ".join(f"{report[f'{m}@3.0']['mlqe_mcc']:.3f}" for m in methods
                                                      if m.startswith("fused")) + " |")

    # predictions at the default thresholds, named as eval_detector.py names them
    names = {"clean": "clean", "synthetic": "synthetic", "apertium": "apertium", "seed": "seed",
             **{p: p for p in PAIRS}}
    # MLQE-PE's unrelated sentences are read alone (as JSONL records are): at the head's threshold for text read
    # alone, where it has one; the other sets are read as documents
    defaults = {"fused": detector.threshold, "lm": 0.5}
    for m, default in defaults.items():
        for name, prefix in names.items():
            threshold = detector.config.default_threshold(alone=True) if m == "fused" and name in PAIRS else default
            scores = [[min(1.0, p) for p in doc] for doc in probs[m][name]]  # as `mtfix detect` scores them
            pred = predictions(docs[name], ev[name], scores, threshold)
            if m == "fused":  # the evidence each span carries, as `mtfix detect` writes it
                pred = [type(d)(d.text, s, id=d.id) for d, s in
                        zip(docs[name], detector.spans_from(ev[name], scores, threshold))]
            with open(out / f"{prefix}.{m}.jsonl", "w", encoding="utf-8") as fh:
                write_jsonl((d.to_json() for d in pred), fh)
    (out / "tradeoff.json").write_text(json.dumps(report, indent=2))
    text = ("### Trade-off at equal clean-news false-flag rates (thresholds from dev clean news)\n\n"
            + "\n".join(curve) + "\n\n### Ablation: word recall by synthetic class at 3 flags per 1,000 dev "
            "clean-news words, dropping one evidence group (the head retrained without it)\n\n"
            + "\n".join(ablation) + "\n")
    (out / "tradeoff.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

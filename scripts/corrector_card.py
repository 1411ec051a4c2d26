"""Write models/corrector/README.md (the model card) from the files the other scripts wrote.

    python scripts/corrector_card.py --model models/corrector --compare runs/corrector-dev.md \\
        --dev runs/fix-dev/report.md --test runs/fix-test/report.md --bench runs/bench-fix.md \\
        --crossval runs/crossval.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


ENCODERS = {"tagger": "the detector's own MiniLM (models/detector, frozen): its states are reused, so one encoder "
                      "pass per sentence serves detection and the correction of every span in it",
            "scratch": "a small BERT over the pieces, trained from scratch with the decoder"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="scripts/eval_corrector.py compare output")
    parser.add_argument("--dev", type=Path, help="scripts/eval_fix.py --split dev report")
    parser.add_argument("--test", type=Path, help="scripts/eval_fix.py --split test report")
    parser.add_argument("--bench", type=Path, help="scripts/bench_fix.py output")
    parser.add_argument("--crossval", type=Path, help="scripts/eval_corrector.py crossval output")
    args = parser.parse_args()
    record = json.loads((args.model / "training.json").read_text())
    config = json.loads((args.model / "config.json").read_text())
    cfg = record["config"]
    rerank = args.model / "rerank.json"
    lines = [
        "# mtfix span corrector", "",
        "Proposes a replacement for each span the detector flags (`mtfix fix`, `mtfix.load().fix()`), or none: "
        "an edit is proposed only when its calibrated probability of being right, against keeping the original, "
        "reaches the default --min-score.", "",
        "## Model", "",
        f"- Encoder: {ENCODERS[config['encoder']]}. "
        "A learned marker vector is added to the states of the span's subwords (or of the subword where something "
        "is to be inserted).",
        f"- Decoder: {config['layers']} pre-norm transformer layers, width {config['d_model']}, "
        f"{config['heads']} heads, "
        f"feed-forward {config['ffn']}; input and output embeddings tied; it reads `<bos> original span <sep>` and "
        "writes the replacement's pieces and `<eos>` (an empty output deletes).",
        f"- Vocabulary: a cased sentencepiece unigram model of {config['vocab_size']:,} pieces trained here on the "
        "references of the training split (identity normalisation, byte fallback: every character survives).",
        f"- Decoding: beam search, 4 hypotheses; the n-best and the original are scored by the decoder; P(edit is "
        f"right) = sigmoid((log P(edit) - log P(original)) / {config['edit_temperature']:.3f} "
        f"{config['edit_bias']:+.3f}) (Platt scaling on dev); default --min-score {config['min_score']:g}.",
    ]
    if rerank.exists():
        weights = json.loads(rerank.read_text())
        kinds = ", ".join(f"{k} {v:+.2f}" for k, v in weights["kinds"].items())
        traits = ", ".join(f"{k} {v:+.2f}" for k, v in weights.get("traits", {}).items())
        gains = (f"z = {weights['s2s']:.3f} x seq2seq gain {weights['lm']:+.3f} x LM gain "
                 f"{weights['length']:+.3f} x words added + kind weight ({kinds})"
                 + (f" + trait weights ({traits})" if traits else "") + f" {weights['bias']:+.3f}")
        decision = ("P(option) = exp(z) / (1 + the sum of exp(z) over the span's options), keeping the original "
                    "being the 1: a conditional logit fitted on a dev slice by the likelihood of each span's right "
                    "choice (the gold fix, else the option that raises the sentence's chrF against the reference "
                    "by 1 or more, else keeping the original)" if weights.get("softmax") else
                    "P = sigmoid of z, Platt-scaled; fitted by logistic regression on a dev slice")
        lines.append(
            "- Reranking stage (rerank.json, used when present): options from the decoder's n-best and the shared "
            "candidate generator (pivot siblings, spelling neighbours, case, spacing, pronoun and article variants) "
            f"scored by the decoder and by SmolLM2 on the span's sentence; {gains}; {decision} "
            f"(scripts/eval_corrector.py fit); default --min-score {weights['min_score']:g}, chosen on MLQE-PE dev "
            "(scripts/eval_fix.py)"
            + (f"; meaning swaps (a content word in place of an unrelated one, `is_swap`) only at --swap-score "
               f"{weights['swap_score']:g} or more" if weights.get("swap_score") is not None else "")
            + ". Never proposed, whatever the score (`unfounded`): options that lose a content word, "
            "deletions of several content words that repeat nothing nearby, options that leave no copy of a word "
            "the span repeats, stubs of long words and of several words (punctuation kept is no word kept), "
            "guesses at words the lexicon has never seen (a replacement not like them), British/American "
            "respellings, edits of codes and numbers, "
            "invented words, words in capitals replaced or lowercased.")
    lines += [
        "", "## Training", "",
        f"- Data: `mtfix data build` train split, segments per source {json.dumps(cfg['mix'])}: "
        f"{record['train_spans']:,} span examples (every fixable span, plus 'keep' examples on unflagged words at "
        f"{cfg['identity_share']} per span, so that the decoder learns to leave good words alone).",
        f"- {record['steps']:,} steps of {cfg['batch_size']} spans ({record['spans_seen']:,} spans), AdamW lr "
        f"{cfg['lr']}, warm-up then linear decay to zero at the {cfg['max_minutes']:g}-minute budget; "
        f"{record['minutes']} minutes on {record.get('trained_on', '2 CPU cores')}, seed {cfg['seed']}"
        + (f" (rows exported by {record['rows_from']})" if record.get("rows_from") else "") + ".",
        "- Dev exact-fix rate of the 1-best by kind (calibration slice): "
        + ", ".join(f"{k} {v:.2f}" for k, v in record["dev_exact"].items()), "",
        "Every figure below is from `mtfix score` or the scripts named, on data the corrector never trained on. "
        "Test sets were scored once for this model.", ""]
    for title, path in (("Variants compared on held-out dev", args.compare),
                        ("Rerankers cross-validated on the fit slice (right / wrong / edits on spans to keep)",
                         args.crossval),
                        ("MLQE-PE, clean news, synthetic classes: test", args.test),
                        ("The --min-score trade-off on dev", args.dev), ("Speed", args.bench)):
        if path and path.exists():
            lines += [f"## {title}", "", path.read_text().strip(), ""]
    notes = args.model / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    (args.model / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.model / 'README.md'}")


if __name__ == "__main__":
    main()

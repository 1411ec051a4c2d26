"""Choose the fused detector's language-model gate on dev: what skipping the LM costs, and what it saves.

The fused detector runs the tagger on every segment, then SmolLM2 (most of its time) on each segment. With a
gate G, a segment whose highest tagger P(BAD) is under G is not scored by the language model: its words keep the
tagger's P(BAD), so at any threshold above G it is flagged nothing. This script scores that rule on the cached dev
evidence of the shipped head (never on test), per gate: the share of dev clean-news words the LM still reads, dev
clean-news flags per 1,000 words, MLQE-PE MCC on the dev segments the head never fitted or chose on, and recall on
the held-out synthetic dev words, overall and per artifact class, all at the head's threshold.

    python scripts/experiments/gate_fusion.py --cache runs/fusion/evidence.pt --unused-dev runs/fusion/unused-dev.pt \
        --data runs/data/dataset --gates 0,0.05,0.1,0.15,0.2,0.3 [--model models/detector] [--write 0.1]

The evidence files are sweep_fusion.py's (`mtfix train fusion` writes the first; `sweep_fusion.py --unused-dev`
the second). --write G stores the gate in the model's fused/config.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from mtfix.errors import InputError
from mtfix.detect.fuse import FEATURES, load_fusion, select
from mtfix.detect.train import FusionTrainConfig, evidence_groups, held_out_segments, word_mcc

ROOT = Path(__file__).resolve().parents[2]


def gate_list(text: str) -> list[float]:
    try:
        gates = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not gates or any(not 0.0 <= g < 1.0 for g in gates):
        raise argparse.ArgumentTypeError("gates lie in [0, 1)")
    return gates


def segment_max(values: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
    """Per word, the highest value over its segment's words."""
    segment = segment.long()
    top = torch.full((int(segment.max()) + 1 if len(segment) else 0,), float("-inf"))
    return top.scatter_reduce(0, segment, values, "amax")[segment]


def gated(probs: torch.Tensor, tagger: torch.Tensor, segment: torch.Tensor, gate: float) -> torch.Tensor:
    """The words' P(BAD) with the gate: the tagger's own where its segment's highest is under ``gate``."""
    return torch.where(segment_max(tagger, segment) < gate, tagger, probs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("runs/fusion/evidence.pt"))
    parser.add_argument("--unused-dev", type=Path, default=Path("runs/fusion/unused-dev.pt"))
    parser.add_argument("--data", help="the DatasetDict folder (for the per-class recall)")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "detector")
    parser.add_argument("--gates", type=gate_list, default=gate_list("0,0.05,0.1,0.15,0.2,0.3"))
    parser.add_argument("--write", type=float, help="store this gate in the model's fused/config.json")
    args = parser.parse_args(argv)
    for path in (args.cache, args.unused_dev):
        if not path.exists():
            parser.error(f"{path} does not exist (see --help for what writes it)")
    head, config = load_fusion(args.model / "fused")
    if args.write is not None:
        if not 0.0 <= args.write < config.threshold:
            parser.error(f"--write must lie in [0, the threshold {config.threshold:.3f})")
        path = args.model / "fused" / "config.json"
        raw = json.loads(path.read_text())
        raw["lm_gate"] = args.write
        path.write_text(json.dumps(raw, indent=2) + "\n")
        print(f"lm_gate {args.write:g} written to {path}")
        return 0
    ev, unused = torch.load(args.cache, weights_only=False), torch.load(args.unused_dev, weights_only=False)
    column = FEATURES.index("tagger")

    def probs(x: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        with torch.inference_mode():
            return config.word_probability(head(select(x, config.features), groups), x).reshape(-1)

    held = held_out_segments(len(ev["family"]), FusionTrainConfig(data="", tagger="", out=""))
    data = ev["train"]
    synthetic = torch.tensor([ev["family"][int(s)] == "synthetic" and int(s) in held for s in data["segment"]])
    synthetic &= data["y"].bool()
    classes: dict[str, torch.Tensor] = {}
    if args.data:
        import datasets

        from mtfix.detect.train import fusion_dev_sample

        rows = fusion_dev_sample(datasets.load_from_disk(args.data)["dev"], FusionTrainConfig(data="", tagger="",
                                                                                               out=""))
        sources = [rows[int(s)]["source"] for s in data["segment"]]
        for name in sorted({s.split(":", 1)[1] for s in sources if s.startswith("synthetic:")}):
            classes[name] = synthetic & torch.tensor([s == f"synthetic:{name}" for s in sources])
    sets = {"news": ev["news"], "unused": unused, "dev": data}
    try:
        found = {k: (probs(part["x"], evidence_groups(part) if config.stack is not None else None),
                     part["x"][:, column], part["segment"]) for k, part in sets.items()}
    except InputError as e:
        parser.error(str(e))
    t = config.threshold
    lines = [f"Gate on the highest tagger P(BAD) of a segment; threshold {t:.3f}; dev evidence ({args.cache}, "
             f"{args.unused_dev}).", "",
             "| gate | dev news words the LM reads | dev news flags/1k | unused dev MLQE-PE MCC | held-out synthetic "
             "recall |" + "".join(f" {c} |" for c in classes),
             "|---|---|---|---|---|" + "---|" * len(classes)]
    for gate in args.gates:
        news_p, news_t, news_s = found["news"]
        read = float((segment_max(news_t, news_s) >= gate).float().mean())
        flags = float((gated(news_p, news_t, news_s, gate) >= t).float().mean()) * 1000
        mcc = word_mcc(gated(*found["unused"], gate) >= t, unused["y"].bool())
        dev_flagged = gated(*found["dev"], gate) >= t
        recall = [float(dev_flagged[m].float().mean()) for m in (synthetic, *classes.values())]
        lines.append(f"| {gate:g} | {read:.2f} | {flags:.2f} | {mcc:.3f} | " + " | ".join(f"{r:.3f}" for r in recall)
                     + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

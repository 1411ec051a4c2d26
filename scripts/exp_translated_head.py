"""Experiment (docs/decisions.md): a head fitted for documents that read as translated, on the evidence it would
read there (every pivot sibling, the whole-window contrast's screen at 4 nats instead of 10).

The documents of `mtfix train document` (8 lines; fit: train and dev splits, test: the test split) whose cached
reading (runs/document/read40.jsonl, the shipped detector with up to 40 siblings) says they read as translated
are read again at the 4-nat screen; each word's evidence, gold label and the shipped head's logit are cached.
Fitted on the fit documents, the threshold chosen there for the mean word F1 of the round trips (synthetic,
apertium), compared on the test documents with the shipped reading at the follow point (0.2):

- shipped: the cached 10-nat reading, flagged at follow_low;
- shipped head, 4-nat evidence (as docs/decisions.md measured before, no refit);
- refit: the shipped stacked head fine-tuned on the 4-nat evidence of the fit documents;
- residual: a logistic regression on the shipped head's logit and the contrast features.

    python scripts/exp_translated_head.py read      # the 4-nat reading (cached in runs/translated-head)
    python scripts/exp_translated_head.py fit       # the heads and the figures
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

OUT = Path("runs/translated-head")
FAMILIES = ("synthetic", "apertium", "clean")


def translated_docs():
    from mtfix.cli.data import SHARED_DATA
    from mtfix.detect.document import load_follow, load_heads
    from mtfix.models import MODELS
    from mtfix.training.document import build_docs, word_rows

    folder = MODELS / "detector"
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    read = {}
    for line in Path("runs/document/read40.jsonl").read_text().splitlines():
        row = json.loads(line)
        read[row["id"]] = row
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.id in read and d.family in FAMILIES
            and (d.spans is not None or d.family == "clean")]
    rows = word_rows(docs, read, head)
    return [(doc, p, probs, labels) for doc, p, probs, labels in rows], follow


def read(args) -> None:
    from mtfix.detect.fuse import FusedDetector, line_groups, word_features
    from mtfix.models import MODELS
    from mtfix.score import word_labels
    from mtfix.text.spans import Span
    from mtfix.text.tokens import is_word

    rows, follow = translated_docs()
    folder = MODELS / "detector"
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    detector.config.full_contrast = {**(detector.config.full_contrast or {}), "screen_nats": args.screen}
    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / f"screen{args.screen:g}.pt"
    done = torch.load(cache) if cache.exists() else {}
    todo = [r for r in rows if follow.translated(r[1]) and r[0].id not in done]
    print(f"{len(todo)} documents to read ({sum(follow.translated(r[1]) for r in rows)} read as translated "
          f"of {len(rows)})", flush=True)
    started, words = time.time(), 0
    for n, (doc, p, base, labels) in enumerate(todo, 1):
        evidence = detector.evidence(doc.lines, detector.contexts(doc.lines, ""), follow.siblings)
        xs, groups, word, gold, offset = [], [], [], [], 0
        for k, (scores, tagger) in enumerate(evidence):
            xs.append(word_features(scores, tagger))
            lines = line_groups(scores) + offset
            groups.append(lines)
            offset = int(lines.max()) + 1 if len(lines) else offset
            spans = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if doc.spans else []
            word += [is_word(t) for t in scores.tokens]
            gold += word_labels(scores.tokens, spans)
        probs = [x for ps in detector.probabilities(evidence) for x in ps]
        done[doc.id] = {"x": torch.cat(xs), "groups": torch.cat(groups), "word": torch.tensor(word),
                        "gold": torch.tensor(gold, dtype=torch.bool), "shipped4": torch.tensor(probs),
                        "base": torch.tensor(base), "p": p}
        words += int(sum(word))
        if n % 10 == 0 or n == len(todo):
            torch.save(done, cache)
            print(f"read {n}/{len(todo)}, {words:,} words, {words / (time.time() - started):.0f} words/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["read", "fit"])
    parser.add_argument("--screen", type=float, default=4.0)
    parser.add_argument("--save", help="write a detector folder with the refit head (fit)")
    parser.add_argument("--lrs", type=float, nargs="+", default=[3e-4, 1e-3])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30, 100])
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.step == "read":
        read(args)
    else:
        fit(args)


CONTRAST = ("full_contrast", "full_contrast_lm", "full_read", "best_contrast", "contrast_pivot", "surprisal",
            "tagger_logit")


def batch(items):
    """The documents' evidence joined: x, line groups numbered apart, word mask, gold, and each word's family."""
    xs, groups, words, gold, fams, offset = [], [], [], [], [], 0
    for doc, found in items:
        xs.append(found["x"])
        groups.append(found["groups"] + offset)
        offset += int(found["groups"].max()) + 1
        words.append(found["word"])
        gold.append(found["gold"])
        fams += [doc.family] * len(found["word"])
    return torch.cat(xs), torch.cat(groups), torch.cat(words), torch.cat(gold), fams


def figures(probs, gold, fams, threshold):
    """Word recall / precision / F1 per labelled family, flags per 1,000 words of clean documents; the mean F1."""
    out, f1s = {}, []
    for family in FAMILIES:
        mask = torch.tensor([f == family for f in fams])
        if not mask.any():
            continue
        flagged = probs[mask] >= threshold
        if family == "clean":
            out[family] = {"flags per 1k": round(1000 * float(flagged.float().mean()), 1), "words": int(mask.sum())}
            continue
        bad = gold[mask]
        tp = int((flagged & bad).sum())
        r, p = tp / max(int(bad.sum()), 1), tp / max(int(flagged.sum()), 1)
        f1 = 2 * r * p / max(r + p, 1e-9)
        f1s.append(f1)
        out[family] = {"recall": round(r, 3), "precision": round(p, 3), "f1": round(f1, 3)}
    out["mean f1"] = round(sum(f1s) / max(len(f1s), 1), 4)
    return out


def best_threshold(probs, gold, fams):
    grid = [round(0.05 + 0.025 * k, 3) for k in range(31)]
    return max(grid, key=lambda t: (figures(probs, gold, fams, t)["mean f1"], t))


def finetune(head, config, x, groups, gold, word, lr, epochs, seed=13):
    from mtfix.detect.fuse import select

    torch.manual_seed(seed)
    tuned = copy.deepcopy(head).train()
    opt = torch.optim.Adam(tuned.parameters(), lr=lr)
    xs = select(x, config.features)
    for _ in range(epochs):
        opt.zero_grad()
        logits = tuned(xs, groups)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[word], gold[word].float())
        loss.backward()
        opt.step()
    return tuned.eval()


def word_probs(head, config, x, groups, word):
    from mtfix.detect.fuse import select

    with torch.inference_mode():
        return config.word_probability(head(select(x, config.features), groups), x)[word]


def residual(head, config, x, groups, word):
    from mtfix.detect.fuse import FEATURES, select

    with torch.inference_mode():
        logit = head(select(x, config.features), groups)[word]
    cols = torch.stack([x[word][:, FEATURES.index(f)] for f in CONTRAST], 1)
    return torch.cat([logit[:, None], cols], 1).numpy()


def fit(args) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mtfix.detect.fuse import load_fusion
    from mtfix.models import MODELS

    rows, follow = translated_docs()
    cache = torch.load(OUT / f"screen{args.screen:g}.pt")
    head, config = load_fusion(MODELS / "detector" / "fused")
    items = {role: [(doc, cache[doc.id]) for doc, p, *_ in rows if follow.translated(p) and doc.role == role]
             for role in ("fit", "test")}
    for role, chosen in items.items():
        print(role, {f: sum(d.family == f for d, _ in chosen) for f in FAMILIES}, flush=True)
    report = {}
    fit_x, fit_g, fit_w, fit_y, fit_f = batch(items["fit"])
    test_x, test_g, test_w, test_y, test_f = batch(items["test"])
    fy, ty = fit_y[fit_w], test_y[test_w]
    fit_fams = [f for f, w in zip(fit_f, fit_w.tolist()) if w]
    test_fams = [f for f, w in zip(test_f, test_w.tolist()) if w]
    base_fit = torch.cat([found["base"] for _, found in items["fit"]])
    base_test = torch.cat([found["base"] for _, found in items["test"]])
    report["shipped, 10 nats, at 0.2"] = {"fit": figures(base_fit, fy, fit_fams, follow.low),
                                          "test": figures(base_test, ty, test_fams, follow.low)}
    t = best_threshold(base_fit, fy, fit_fams)
    report[f"shipped, 10 nats, at {t} (best on fit)"] = {"fit": figures(base_fit, fy, fit_fams, t),
                                                         "test": figures(base_test, ty, test_fams, t)}
    s_fit, s_test = word_probs(head, config, fit_x, fit_g, fit_w), word_probs(head, config, test_x, test_g, test_w)
    report["shipped head, 4 nats, at 0.2"] = {"fit": figures(s_fit, fy, fit_fams, follow.low),
                                              "test": figures(s_test, ty, test_fams, follow.low)}
    t = best_threshold(s_fit, fy, fit_fams)
    report[f"shipped head, 4 nats, at {t} (best on fit)"] = {"fit": figures(s_fit, fy, fit_fams, t),
                                                             "test": figures(s_test, ty, test_fams, t)}
    # the refit's learning rate and epochs by two-fold cross-validation over the fit documents
    halves = [items["fit"][0::2], items["fit"][1::2]]
    best = None
    for lr in args.lrs:
        for epochs in args.epochs:
            scores = []
            for k in (0, 1):
                x, g, w, y, f = batch(halves[k])
                tuned = finetune(head, config, x, g, y, w, lr, epochs)
                ox, og, ow, oy, of = batch(halves[1 - k])
                probs = word_probs(tuned, config, ox, og, ow)
                ofams = [a for a, b in zip(of, ow.tolist()) if b]
                tp = best_threshold(word_probs(tuned, config, x, g, w), y[w], [a for a, b in zip(f, w.tolist()) if b])
                scores.append(figures(probs, oy[ow], ofams, tp)["mean f1"])
            score = sum(scores) / 2
            print(f"refit lr {lr} epochs {epochs}: cross-validated mean F1 {score:.4f}", flush=True)
            if best is None or score > best[0]:
                best = (score, lr, epochs)
    _, lr, epochs = best
    tuned = finetune(head, config, fit_x, fit_g, fit_y, fit_w, lr, epochs)
    r_fit, r_test = word_probs(tuned, config, fit_x, fit_g, fit_w), word_probs(tuned, config, test_x, test_g, test_w)
    t = report_threshold = best_threshold(r_fit, fy, fit_fams)
    report[f"refit (lr {lr}, {epochs} epochs), 4 nats, at {t}"] = {"fit": figures(r_fit, fy, fit_fams, t),
                                                                  "test": figures(r_test, ty, test_fams, t)}
    if args.save:  # a detector folder whose head is the refit and whose drop is its threshold (eval_sense_swaps)
        import shutil

        from safetensors.torch import save_file

        shutil.copytree(MODELS / "detector", args.save)
        save_file({k: v.half().contiguous() for k, v in tuned.state_dict().items()},
                  str(Path(args.save) / "fused" / "model.safetensors"))
        points = json.loads((Path(args.save) / "points.json").read_text())
        (Path(args.save) / "points.json").write_text(json.dumps({**points, "follow_low": t}, indent=1))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(residual(head, config, fit_x, fit_g, fit_w), fy.numpy())
    l_fit = torch.tensor(model.predict_proba(residual(head, config, fit_x, fit_g, fit_w))[:, 1])
    l_test = torch.tensor(model.predict_proba(residual(head, config, test_x, test_g, test_w))[:, 1])
    t = best_threshold(l_fit, fy, fit_fams)
    report[f"residual logistic, 4 nats, at {t}"] = {"fit": figures(l_fit, fy, fit_fams, t),
                                                    "test": figures(l_test, ty, test_fams, t),
                                                    "weights": dict(zip(("logit", *CONTRAST),
                                                                        model[-1].coef_[0].round(3).tolist()))}
    # paired bootstrap over the test documents: the refit at its threshold against the shipped reading at 0.2
    sizes = [int(found["word"].sum()) for _, found in items["test"]]
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    gen = torch.Generator().manual_seed(7)
    wins, deltas = 0, []
    for _ in range(1000):
        pick = torch.randint(len(sizes), (len(sizes),), generator=gen).tolist()
        index = torch.tensor([i for k in pick for i in range(starts[k], starts[k] + sizes[k])])
        fams = [test_fams[i] for i in index.tolist()]
        delta = (figures(r_test[index], ty[index], fams, report_threshold)["mean f1"]
                 - figures(base_test[index], ty[index], fams, follow.low)["mean f1"])
        deltas.append(delta)
        wins += delta > 0
    deltas.sort()
    report["bootstrap: refit minus shipped, test mean F1"] = {"share above 0": wins / 1000,
                                                              "5%": round(deltas[50], 4), "95%": round(deltas[950], 4)}
    for name, found in report.items():
        print(json.dumps({name: found}), flush=True)
    (OUT / f"report{args.screen:g}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

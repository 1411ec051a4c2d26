"""Experiment (docs/decisions.md): would line-level evidence lift the document head's AUC on synthetic round trips
to 0.95? From `mtfix train document`'s cached readings: the shipped FEATURES refitted as it fits them (fitting
documents at 1, 2, 4 and 8 lines), then with the share of lines whose strongest word reaches P(BAD) 0.3, 0.5 or
0.9, and the mean over lines of that strongest word; ROC AUC of whole held-out documents, clean against each
family. Then the shipped head's AUC of synthetic round trips against each clean source apart.

    python scripts/exp_document_lines.py [--cache runs/document/read.jsonl]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import FEATURES, Tally, features, load_heads
from mtfix.models import MODELS
from mtfix.training.document import FAMILIES, SIZES, build_docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="runs/document/read.jsonl")
    args = parser.parse_args()
    read = {}
    for line in Path(args.cache).read_text().splitlines():
        row = json.loads(line)
        read[row["id"]] = row
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.id in read]

    def rows(chosen: list) -> list:
        out = []
        for d in chosen:
            tallies = [Tally.from_json(t) for t in read[d.id]["fused"]]
            strongest = [max(p) if p else 0.0 for p in read[d.id]["probs"]]
            for size in sorted({*[s for s in SIZES if s < len(tallies)], len(tallies)}):
                total = sum(tallies[:size], Tally())
                if total.words:
                    f = features(total)
                    f.update({f"lines_p{int(100 * t)}": float(np.mean([m >= t for m in strongest[:size]]))
                              for t in (0.3, 0.5, 0.9)})
                    f["mean_strongest"] = float(np.mean(strongest[:size]))
                    out.append((d, size, f))
        return out

    fit, test = rows([d for d in docs if d.role == "fit"]), rows([d for d in docs if d.role == "test"])

    def aucs(names: list[str]) -> dict[str, float]:
        x = np.array([[f[n] for n in names] for _, _, f in fit])
        y = np.array([d.translated for d, _, _ in fit])
        counts: dict[str, int] = {}
        for d, _, _ in fit:
            counts[d.family] = counts.get(d.family, 0) + 1
        translated = [f for f in counts if f != "clean"]
        weight = np.array([0.5 / counts[d.family] if d.family == "clean" else
                           0.5 / (len(translated) * counts[d.family]) for d, _, _ in fit]) * len(fit)
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(max_iter=3000).fit(scaler.transform(x), y, sample_weight=weight)
        whole = [(d, f) for d, n, f in test if n == len(d.lines)]
        p = model.predict_proba(scaler.transform(np.array([[f[n] for n in names] for _, f in whole])))[:, 1]
        out = {}
        for family in FAMILIES[1:]:
            idx = [i for i, (d, _) in enumerate(whole) if d.family in (family, "clean")]
            out[family] = round(float(roc_auc_score([whole[i][0].translated for i in idx], p[idx])), 3)
        return out

    print("refit, shipped features", aucs(list(FEATURES)))
    for extra in (["lines_p30"], ["lines_p50"], ["lines_p90"], ["mean_strongest"],
                  ["lines_p30", "lines_p50", "lines_p90", "mean_strongest"]):
        print("+", ", ".join(extra), aucs([*FEATURES, *extra]))
    head = load_heads(MODELS / "detector")["fused"]
    test_docs = [d for d in docs if d.role == "test"]
    p = {d.id: head.probability(sum((Tally.from_json(t) for t in read[d.id]["fused"]), Tally())) for d in test_docs}
    synthetic = [d for d in test_docs if d.family == "synthetic"]
    for source in sorted({d.source for d in test_docs if d.family == "clean"}):
        clean = [d for d in test_docs if d.source == source]
        auc = roc_auc_score([1] * len(synthetic) + [0] * len(clean), [p[d.id] for d in synthetic + clean])
        print(f"shipped head, synthetic against {source} ({len(clean)} documents): {auc:.3f}")
    print("synthetic documents under 0.5:", sum(p[d.id] < 0.5 for d in synthetic), "of", len(synthetic))


if __name__ == "__main__":
    main()

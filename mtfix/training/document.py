"""Training the document head (`mtfix train document`): how likely a whole text went through machine translation.

Documents of each family are built from the shared data, every one read once by the detector the head will serve,
as it reads where its threshold follows the document (``--siblings``: the pivot siblings it tries there; each line's
``document.Tally`` cached, so that a rerun or a refit costs no model time); documents of any length
are then composed from their first lines, and a logistic regression is fitted on the fitting documents and
measured on the held-out ones, per family.

Families (fit: train and dev splits; test: the test split, and the held-out sources):
- clean: ABC rural news and State of the Union addresses (consecutive sentences), English Wikipedia sentences
  (MLQE-PE en-de sources), and the human translations of the MQM set (ref, refB), read as clean; ABC science news
  is held out of the fit altogether (clean text of a source the head never saw).
- synthetic round trips: clean documents whose sentences get round-trip artifacts (mtfix.data.corrupt), most of them.
- apertium round trips through Spanish, Catalan and Esperanto; Galician only in the test.
- MLQE-PE: real neural MT into English, one way (consecutive lines of one pair).
- MQM: the WMT 2021 systems' Chinese -> English TED outputs (one way), dev part for the fit, held-out part for the
  test.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

FAMILIES = ("clean", "synthetic", "apertium", "mlqe-pe", "mqm")
SIZES = (1, 2, 4, 8)  # the lengths, in lines, a document is also read at (its first lines)


@dataclass
class Doc:
    id: str
    family: str       # one of FAMILIES
    source: str       # e.g. clean:abc-science, apertium:glg, mlqe-pe:ro-en
    role: str         # fit or test
    lines: list[str]
    hter: list[float] | None = None  # per line, for MLQE-PE test lines read alone
    spans: list[list[tuple[int, int]]] | None = None  # per line, the artifacts' character offsets, where known

    @property
    def translated(self) -> int:
        return int(self.family != "clean")


def _blocks(sentences: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(sentences) - size + 1, size):
        yield list(sentences[i:i + size])


def build_docs(data_dir: Path, seed: int = 13, per_family: int = 40, lines: int = 8) -> list[Doc]:
    """The documents of every family and role (see the module), seeded; ``per_family``: documents per source
    family and role (about; the clean family has four sources)."""
    from mtfix.data.build import PAIRS, documents, usable
    from mtfix.data.mlqe import _read_members
    from mtfix.text.tokens import detokenize

    rng = random.Random(seed)
    docs: list[Doc] = []
    clean = [d for d in documents(data_dir) if "post-edit" not in d.source]
    by: dict[tuple[str, str], list[list[str]]] = {}
    wiki: dict[str, list[str]] = {"fit": [], "test": []}
    for d in clean:
        role = "test" if d.split == "test" else "fit"
        good = [s for s in d.sentences if usable(s)]
        if d.source == "clean:wikipedia":
            wiki[role] += good
        elif len(good) >= lines:
            by.setdefault((d.source, role), []).append(good[:lines])
    from mtfix.data.build import _tar_lines

    wiki["test"] = [detokenize(x.split())[0] for x in _tar_lines(data_dir / "mlqe-pe" / "en-de-test.tar.gz", ".src")]
    for role in ("fit", "test"):
        for source in ("clean:abc-rural", "clean:state-union", "clean:abc-science"):
            if source == "clean:abc-science" and role == "fit":
                continue  # held out: clean news of a source the head never saw
            pool = by.get((source, role), [])
            for k, part in enumerate(rng.sample(pool, min(per_family, len(pool)))):
                docs.append(Doc(f"{source}:{role}:{k}", "clean", source, role, part))
        for k, part in enumerate(list(_blocks(wiki[role], lines))[:per_family]):
            docs.append(Doc(f"clean:wikipedia:{role}:{k}", "clean", "clean:wikipedia", role, part))
    docs += _synthetic(by, rng, per_family, lines)
    docs += _apertium(by, rng, per_family, lines)
    for role, splits in (("fit", ("train", "dev")), ("test", ("test",))):
        for pair in PAIRS:
            mt = [detokenize(x.split())[0] for split in splits
                  for x in _read_members(data_dir / "mlqe-pe" / f"{pair}-{split}.tar.gz")["mt"]]
            blocks = list(_blocks(mt, lines))
            for k, part in enumerate(rng.sample(blocks, min(per_family // len(PAIRS) + 1, len(blocks)))):
                docs.append(Doc(f"mlqe-pe:{pair}:{role}:{k}", "mlqe-pe", f"mlqe-pe:{pair}", role, part))
    docs += _mqm(data_dir, rng, per_family)
    return docs


def _synthetic(by: dict[tuple[str, str], list[list[str]]], rng: random.Random, count: int, lines: int) -> list[Doc]:
    """Clean documents of every role's sources with most sentences given one or two round-trip artifacts."""
    from mtfix.data.build import default_resources
    from mtfix.data.corrupt import corrupt

    resources = default_resources()
    out = []
    for role in ("fit", "test"):
        pool = [p for (source, r), parts in by.items() if r == role for p in parts]
        for k, part in enumerate(rng.sample(pool, min(count, len(pool)))):
            rate = rng.uniform(0.3, 0.9)
            damaged, spans = [], []
            for sentence in part:
                made = corrupt(sentence, rng, resources, count=rng.choice((1, 2))) if rng.random() < rate else None
                damaged.append(made[0] if made is not None else sentence)
                spans.append([(s.start, s.end) for s in made[1]] if made is not None else [])
            out.append(Doc(f"synthetic:{role}:{k}", "synthetic", "synthetic", role, damaged, spans=spans))
    return out


def _apertium(by: dict[tuple[str, str], list[list[str]]], rng: random.Random, count: int, lines: int) -> list[Doc]:
    """Clean documents round-tripped by apertium: train pivots for the fit, the held-out Galician for the test."""
    from mtfix.data.build import HELD_OUT_PIVOT, TRAIN_PIVOTS
    from mtfix.data.roundtrip import artifact_spans, check_apertium, round_trip

    check_apertium([*TRAIN_PIVOTS, HELD_OUT_PIVOT])
    out = []
    for role, pivots in (("fit", TRAIN_PIVOTS), ("test", [HELD_OUT_PIVOT])):
        pool = [p for (source, r), parts in by.items() if r == role for p in parts]
        chosen = rng.sample(pool, min(count, len(pool)))
        for j, pivot in enumerate(pivots):
            mine = chosen[j::len(pivots)]
            trips = round_trip(pivot, [s for part in mine for s in part])
            for k, part in enumerate(mine):
                back = trips[k * lines:(k + 1) * lines]
                if any(t is None for t in back):
                    continue
                # the round trip with apertium's own quirks undone (as the training data has it) and its artifacts
                aligned = [artifact_spans(original, str(t)) for original, t in zip(part, back)]
                texts = [a[0] if a is not None else str(t) for a, t in zip(aligned, back)]
                spans = [[(s.start, s.end) for s in a[1]] for a in aligned] if all(aligned) else None
                out.append(Doc(f"apertium:{pivot}:{role}:{k}", "apertium", f"apertium:{pivot}", role, texts,
                               spans=spans))
    return out


def _mqm(data_dir: Path, rng: random.Random, count: int) -> list[Doc]:
    """The MQM set's documents: each system's segments of one talk in order (the dev part's segments for the fit,
    the held-out part's for the test); the human translations (ref, refB) as clean documents."""
    import csv

    from mtfix.data.mqm import part_of, unmark

    path = data_dir / "mqm" / "mqm-ted-zhen.tsv"
    segments: dict[tuple[str, str, str], dict[int, str]] = {}
    with open(path, encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE):
            role = "fit" if part_of(row["doc_id"], row["seg_id"]) == "dev" else "test"
            segments.setdefault((row["system"], row["doc_id"], role), {})[int(row["seg_id"])] = \
                unmark(row["target"] or "")[0]
    out = []
    for role in ("fit", "test"):
        for human in (False, True):
            keys = sorted(k for k in segments if k[2] == role and (k[0] in ("ref", "refB")) == human)
            for system, doc_id, _ in rng.sample(keys, min(count // 2 if human else count, len(keys))):
                lines = [segments[(system, doc_id, role)][s] for s in sorted(segments[(system, doc_id, role)])]
                family, source = ("clean", "clean:mqm-human") if human else ("mqm", f"mqm:{system}")
                out.append(Doc(f"{source}:{doc_id}:{role}", family, source, role, lines))
    return out


def sentence_docs(data_dir: Path, per_pair: int, seed: int = 13) -> list[Doc]:
    """MLQE-PE test lines with their HTER, each a document read alone (the sentence-level measure)."""
    import io
    import tarfile

    from mtfix.data.build import PAIRS
    from mtfix.text.tokens import detokenize

    rng = random.Random(seed)
    out = []
    for pair in PAIRS:
        with tarfile.open(data_dir / "mlqe-pe" / f"{pair}-test.tar.gz") as tar:
            files = {}
            for member in tar.getmembers():
                ext = member.name.rsplit(".", 1)[-1]
                if member.isfile() and ext in ("mt", "hter"):
                    data = tar.extractfile(member)
                    assert data is not None
                    files[ext] = io.TextIOWrapper(data, encoding="utf-8").read().splitlines()
        rows = list(zip(files["mt"], files["hter"]))
        for k, (mt, hter) in enumerate(rng.sample(rows, min(per_pair, len(rows)))):
            out.append(Doc(f"sentence:{pair}:{k}", "mlqe-pe", f"mlqe-pe:{pair}", "sentence",
                           [detokenize(mt.split())[0]], [float(hter)]))
    return out


def read_docs(detector: Any, docs: Sequence[Doc], cache: Path, log: Any = print, siblings: int | None = None
              ) -> dict[str, dict[str, Any]]:
    """Each document read once by the fused detector (its lines in order, read after the lines before them
    where the head reads context, trying ``siblings`` pivot siblings as where the threshold follows the document;
    a sentence document alone, as read alone): per line, the fused tally, the tagger's alone (the fast head's
    evidence) and how many words were flagged at the default threshold (the flag-density baseline).
    Cached in ``cache`` (JSON lines, one per document, appended as they come: a killed run goes on; a document
    read with another number of siblings is read again)."""
    from mtfix.detect.document import tally
    from mtfix.text.tokens import is_word

    done: dict[str, dict[str, Any]] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a killed run
            done[row["id"]] = row
    todo = [d for d in docs if d.id not in done or
            done[d.id].get("siblings") != (siblings if d.role != "sentence" else None)]
    started, words = time.time(), 0
    with cache.open("a") as out:
        for n, doc in enumerate(todo, 1):
            contexts = detector.contexts(doc.lines, "") if doc.role != "sentence" else None
            tried = siblings if contexts is not None else None
            evidence = detector.evidence(doc.lines, contexts, tried)
            probs = detector.probabilities(evidence)
            row: dict[str, Any] = {"id": doc.id, "fused": [], "fast": [], "flagged": [], "probs": [],
                                   **({"siblings": tried} if tried is not None else {})}
            threshold = detector.config.default_threshold(alone=contexts is None)
            for (scores, tagger), p in zip(evidence, probs):
                row["fused"].append(tally(scores.tokens, p, tagger, scores.surprisal, scores.entropy).to_json())
                fast = tally(scores.tokens, tagger)
                row["fast"].append(fast.to_json())
                row["flagged"].append(sum(x >= threshold for x, tok in zip(p, scores.tokens) if is_word(tok)))
                row["probs"].append([round(x, 4) for x in p])  # per token: the word threshold's fit reads them
                words += fast.words
            out.write(json.dumps(row) + "\n")
            out.flush()
            done[doc.id] = row
            if n % 20 == 0 or n == len(todo):
                rate = words / max(time.time() - started, 1e-9)
                log(f"read {n}/{len(todo)} documents, {words:,} words, {rate:.0f} words/s")
    return done


def examples(docs: Sequence[Doc], read: dict[str, dict[str, Any]], kind: str, sizes: Sequence[int] = SIZES
             ) -> list[tuple[Doc, int, Any]]:
    """(document, lines, tally) for each document at each size in ``sizes`` (its first lines) and whole."""
    from mtfix.detect.document import Tally

    out = []
    for doc in docs:
        rows = [Tally.from_json(t) for t in read[doc.id][kind]]
        for size in sorted({*[s for s in sizes if s < len(rows)], len(rows)}):
            total = sum(rows[:size], Tally())
            if total.words:
                out.append((doc, size, total))
    return out


def fit_head(train: list[tuple[Doc, int, Any]], names: Sequence[str], c: float = 1.0) -> Any:
    """A logistic regression on standardised features, families weighted equally, clean as much as all
    translated families together."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from mtfix.detect.document import DocumentHead, features

    x = np.array([[features(t)[n] for n in names] for _, _, t in train])
    y = np.array([d.translated for d, _, _ in train])
    counts: dict[str, int] = {}
    for d, _, _ in train:
        counts[d.family] = counts.get(d.family, 0) + 1
    translated = [f for f in counts if f != "clean"]
    weight = np.array([0.5 / counts[d.family] if d.family == "clean" else 0.5 / (len(translated) * counts[d.family])
                       for d, _, _ in train]) * len(train)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x), y, sample_weight=weight)
    return DocumentHead(tuple(names), tuple(float(v) for v in scaler.mean_),
                        tuple(float(v) if v > 0 else 1.0 for v in scaler.scale_),
                        tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]))


def measure(head: Any, test: list[tuple[Doc, int, Any]], sentences: list[tuple[Doc, int, Any]] | None = None,
            flagged: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """ROC AUC of clean test documents against each translated family, whole documents and one line; ECE over
    all whole test documents; the sentence-level Pearson correlation with HTER per pair beside the flag-density
    baseline."""
    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from mtfix.training.calibration import ece

    def auc(rows: list[tuple[Doc, int, Any]], family: str, clean_source: str | None = None) -> float | None:
        picked = [(d, p) for d, _, p in rows if d.family == family or
                  (d.family == "clean" and (clean_source is None or d.source == clean_source))]
        labels = [d.translated for d, _ in picked]
        if len(set(labels)) < 2:
            return None
        return round(float(roc_auc_score(labels, [p for _, p in picked])), 3)

    whole = [(d, n, head.probability(t)) for d, n, t in test if n == len(d.lines)]
    single = [(d, n, head.probability(t)) for d, n, t in test if n == 1]
    out: dict[str, Any] = {"documents": {}, "one line": {}, "against abc-science only": {}}
    for family in FAMILIES[1:]:
        out["documents"][family] = auc(whole, family)
        out["one line"][family] = auc(single, family)
        out["against abc-science only"][family] = auc(whole, family, "clean:abc-science")
    out["ece"] = round(ece(torch.tensor([p for _, _, p in whole]), torch.tensor([d.translated for d, _, _ in whole])),
                       3)
    out["count"] = {f: sum(d.family == f for d, _, _ in whole) for f in FAMILIES}
    clean = [p for d, _, p in whole if d.family == "clean"]
    out["clean above 0.5"] = round(sum(p >= 0.5 for p in clean) / max(len(clean), 1), 3)
    if sentences:
        out["pearson with hter"] = {}
        for pair in sorted({d.source for d, _, _ in sentences}):
            rows = [(d, t) for d, _, t in sentences if d.source == pair]
            hter = [d.hter[0] for d, _ in rows]  # type: ignore[index]
            mine = [head.probability(t) or 0.0 for _, t in rows]
            density = [(flagged or {})[d.id][0] / max(t.words, 1) for d, t in rows]
            out["pearson with hter"][pair] = {"mt_probability": round(float(np.corrcoef(mine, hter)[0, 1]), 3),
                                              "flag density": round(float(np.corrcoef(density, hter)[0, 1]), 3)}
    return out


def word_rows(docs: Sequence[Doc], read: dict[str, dict[str, Any]], head: Any
               ) -> list[tuple[Doc, float, list[float], list[bool] | None]]:
    """Per document: its MT probability (whole), its words' P(BAD), and their gold labels where known."""
    from mtfix.detect.document import Tally
    from mtfix.score import word_labels
    from mtfix.text.spans import Span
    from mtfix.text.tokens import is_word, tokenize

    out = []
    for doc in docs:
        row = read[doc.id]
        total = sum((Tally.from_json(t) for t in row["fused"]), Tally())
        probs: list[float] = []
        labels: list[bool] | None = [] if doc.spans is not None or doc.family == "clean" else None
        for k, line in enumerate(doc.lines):
            tokens = tokenize(line)
            gold = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if doc.spans is not None else []
            marks = word_labels(tokens, gold)
            for tok, p, bad in zip(tokens, row["probs"][k], marks):
                if is_word(tok):
                    probs.append(p)
                    if labels is not None:
                        labels.append(bad)
        out.append((doc, head.probability(total) or 0.0, probs, labels))
    return out


NEWS = ("clean:abc-rural", "clean:state-union", "clean:abc-science")  # the clean news the budget is kept on


def follow_figures(rows: list[tuple[Doc, float, list[float], list[bool] | None]], threshold: Any
                   ) -> dict[str, Any]:
    """Flags per 1,000 words of clean news documents (NEWS), and word recall and precision in each translated
    family whose words are labelled, with each document's words flagged at ``threshold(p)``."""
    out: dict[str, Any] = {}
    words = flags = 0
    per: dict[str, list[int]] = {}
    for doc, p, probs, labels in rows:
        t = threshold(p)
        if doc.source in NEWS:
            words += len(probs)
            flags += sum(x >= t for x in probs)
        elif doc.family != "clean" and labels is not None:
            hit = per.setdefault(doc.family, [0, 0, 0])  # true flags, flags, artifact words
            hit[0] += sum(x >= t and bad for x, bad in zip(probs, labels))
            hit[1] += sum(x >= t for x in probs)
            hit[2] += sum(labels)
    out["clean flags per 1k"] = round(1000 * flags / max(words, 1), 2)
    for family, (tp, flagged, gold) in sorted(per.items()):
        out[family] = {"recall": round(tp / max(gold, 1), 3), "precision": round(tp / max(flagged, 1), 3)}
    return out


def write_scoring(rows: list[tuple[Doc, float, list[float], list[bool] | None]], read: dict[str, dict[str, Any]],
                  policies: dict[str, Any], folder: Path) -> None:
    """FAMILY.gold.jsonl and FAMILY-POLICY.pred.jsonl in ``folder`` for the labelled translated documents and the
    clean ABC science ones: each line a record, its spans the words flagged at ``policies[POLICY](p)`` (p: its
    document's MT probability), from the cached readings, as the detector forms them (text.spans.word_spans)."""
    from mtfix.text.formats import Document
    from mtfix.text.spans import Span, word_spans
    from mtfix.text.tokens import tokenize

    folder.mkdir(parents=True, exist_ok=True)
    picked = [r for r in rows if r[3] is not None and (r[0].family != "clean" or r[0].source == "clean:abc-science")]
    for family in sorted({r[0].family for r in picked}):
        mine = [r for r in picked if r[0].family == family]
        gold = [Document(line, [Span(a, b, "artifact", 1.0, ()) for a, b in (doc.spans[k] if doc.spans else [])])
                for doc, *_ in mine for k, line in enumerate(doc.lines)]
        (folder / f"{family}.gold.jsonl").write_text("".join(json.dumps(d.to_json()) + "\n" for d in gold))
        for name, policy in policies.items():
            pred = [Document(line, word_spans(tokenize(line), probs, policy(p)))
                    for doc, p, *_ in mine for line, probs in zip(doc.lines, read[doc.id]["probs"])]
            (folder / f"{family}-{name}.pred.jsonl").write_text("".join(json.dumps(d.to_json()) + "\n" for d in pred))


def fit_follow(rows: list[tuple[Doc, float, list[float], list[bool] | None]], default: float, budget: float
               ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The word threshold that follows the document: ``default`` below an MT probability ``cut``, ``low`` from it
    on, the pair with the best word F1 in the labelled translated documents (the mean over their families; of
    pairs within 0.001, the one with the highest cut, which changes fewest documents) while the clean news
    documents keep their flags per 1,000 words at ``default`` alone, plus at most ``budget``. Returns the choice
    and every pair's figures."""
    def score(figures: dict[str, Any]) -> float:
        found = [2 * v["recall"] * v["precision"] / max(v["recall"] + v["precision"], 1e-9)
                 for v in figures.values() if isinstance(v, dict)]
        return round(sum(found) / max(len(found), 1), 3)

    base = follow_figures(rows, lambda p: default)["clean flags per 1k"]
    tried, best, best_score = [], {"cut": 1.0, "low": default}, score(follow_figures(rows, lambda p: default))
    for cut in (0.98, 0.95, 0.9, 0.8, 0.7, 0.5):  # highest first: a later pair must do better to be chosen
        for low in (0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25):
            if low >= default:
                continue
            figures = follow_figures(rows, lambda p, cut=cut, low=low: low if p >= cut else default)
            tried.append({"cut": cut, "low": low, **figures})
            clean = figures["clean flags per 1k"]
            if clean <= base + budget and score(figures) > best_score:
                best, best_score = {"cut": cut, "low": low}, score(figures)
    return best, tried


RISES = tuple(round(0.3 + 0.02 * k, 2) for k in range(11))  # 0.30 to 0.50, the thresholds below the cut tried


def fit_high(rows: list[tuple[Doc, float, list[float], list[bool] | None]], cut: float, low: float, default: float,
             rate: float) -> tuple[float | None, list[dict[str, Any]]]:
    """The threshold below the cut: the lowest of RISES above ``default`` at which the clean news documents (those
    under the cut at it, the others at ``low``) keep to ``rate`` flags per 1,000 words; None where ``default``
    already does, the highest tried where none does. Returns the choice and each one's figures."""
    from mtfix.detect.document import Follow

    def at(high: float) -> dict[str, Any]:
        return follow_figures(rows, lambda p: Follow(cut, low, high).threshold(p, default))

    if at(default)["clean flags per 1k"] <= rate:
        return None, []
    tried = [{"high": high, **at(high)} for high in RISES if high > default]
    for figures in tried:
        if figures["clean flags per 1k"] <= rate:
            return figures["high"], tried
    return (tried[-1]["high"] if tried else None), tried


USAGE = __doc__


def document_options(parser: argparse.ArgumentParser, model: str, cache: str) -> None:
    """The options of a trainer that reads these documents: where the data is, the detector folder (``model``: what
    it is for), the readings' cache (``cache``: what is kept there), how many documents and lines."""
    from mtfix.cli.data import SHARED_DATA

    parser.add_argument("--data-dir", default=str(SHARED_DATA),
                        help="where mlqe-pe/, corpora/ and mqm/ are (default: $MTFIX_DATA, else ../shared/data)")
    parser.add_argument("--model", default=None, help=f"{model} (default: the shipped one)")
    parser.add_argument("--cache", default="runs/document/read.jsonl",
                        help=f"{cache} (default runs/document/read.jsonl)")
    parser.add_argument("--per-family", type=int, default=40, help="documents per family and role (default 40)")
    parser.add_argument("--lines", type=int, default=8, help="lines per document (default 8)")


def main(argv: list[str] | None = None) -> int:
    from mtfix.detect.candidates import MAX_SIBLINGS
    from mtfix.training.common import budget, siblings_count

    parser = argparse.ArgumentParser(prog="mtfix train document", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    document_options(parser, "the detector folder the heads serve and are written to",
                     "where each document's reading is kept (a rerun reads only what is missing)")
    parser.add_argument("--sentences", type=int, default=100,
                        help="MLQE-PE test lines per pair read alone for the HTER correlation (default 100)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the regression (default 1)")
    parser.add_argument("--budget", type=float, default=0.1,
                        help="clean news flags per 1,000 words the threshold that follows the document may add to "
                             "the default's (default 0.1)")
    parser.add_argument("--clean-rate", type=budget, default=1.5,
                        help="flags per 1,000 words of clean news that documents under the cut are held to: the "
                             "threshold below it rises from the default until they are (default 1.5)")
    parser.add_argument("--siblings", type=siblings_count, default=None,
                        help="pivot siblings of a surprising word the detector tries in documents read in context, "
                             "where its threshold follows the document (default: the folder's follow_siblings, "
                             f"else the candidate generator's own); 1 to {MAX_SIBLINGS}")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--write", action="store_true", help="write document.json (the heads) and the threshold that "
                                                             "follows the document (points.json) into the detector "
                                                             "folder")
    parser.add_argument("--report", help="also write the measurements here (JSON)")
    parser.add_argument("--score-dir", help="also write the held-out round trips and ABC science documents as gold "
                                            "and, from the cached readings, the words flagged at the default "
                                            "threshold and at the one that follows the document, for mtfix score")
    args = parser.parse_args(argv)

    from mtfix.detect.document import FAST_FEATURES, FEATURES, Follow, load_follow, save_heads
    from mtfix.detect.fuse import FusedDetector
    from mtfix.models import shipped_detector

    def log(msg: str) -> None:
        print(f"mtfix: {msg}", file=sys.stderr, flush=True)

    folder = Path(args.model) if args.model else shipped_detector()
    if folder is None:
        log("no detector folder: give --model")
        return 2
    data_dir = Path(args.data_dir)
    docs = build_docs(data_dir, args.seed, args.per_family, args.lines)
    sentences = sentence_docs(data_dir, args.sentences, args.seed)
    fit = [d for d in docs if d.role == "fit"]
    log("documents: " + ", ".join(f"{role} {f} {sum(d.family == f and d.role == role for d in docs)}"
                                  for role in ("fit", "test") for f in FAMILIES))
    cache = Path(args.cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    shipped = load_follow(folder)
    siblings = args.siblings if args.siblings is not None else shipped.siblings if shipped else None
    read = read_docs(detector, [*docs, *sentences], cache, log, siblings)
    heads, report = {}, {}
    for kind, names in (("fused", FEATURES), ("fast", FAST_FEATURES)):
        head = fit_head(examples(fit, read, kind), names, args.c)
        figures = measure(head, examples([d for d in docs if d.role == "test"], read, kind),
                          examples(sentences, read, kind, sizes=(1,)),
                          {d.id: read[d.id]["flagged"] for d in sentences})
        record = {"fit": {f: sum(d.family == f for d in fit) for f in FAMILIES}, "lines": args.lines,
                  "sizes": list(SIZES), "c": args.c, "seed": args.seed, "test": figures}
        heads[kind] = type(head)(head.features, head.mean, head.scale, head.weights, head.bias, record)
        report[kind] = figures
        log(f"{kind}: {json.dumps(figures)}")
    # the word threshold that follows the document, fitted on the fitting documents, measured on the test ones
    default = detector.config.threshold
    fit_rows = word_rows(fit, read, heads["fused"])
    follow, tried = fit_follow(fit_rows, default, args.budget)
    high, rises = fit_high(fit_rows, follow["cut"], follow["low"], default, args.clean_rate)
    chosen = Follow(follow["cut"], follow["low"], high, siblings)
    test_rows = word_rows([d for d in docs if d.role == "test"], read, heads["fused"])

    def policy(p: float) -> float:
        return chosen.threshold(p, default)

    def drop(p: float) -> float:  # the threshold that follows the document downwards only
        return Follow(chosen.cut, chosen.low).threshold(p, default)

    science = [r for r in test_rows if r[0].family != "clean" or r[0].source == "clean:abc-science"]
    report["follow"] = {"chosen": {**follow, "high": high, "siblings": siblings},
                        "fit": follow_figures(fit_rows, policy),
                        "fit at the default alone": follow_figures(fit_rows, lambda p: default),
                        "test": follow_figures(test_rows, policy),
                        "test at the default alone": follow_figures(test_rows, lambda p: default),
                        "test downwards only": follow_figures(test_rows, drop),
                        "test abc-science": follow_figures(science, policy),
                        "test abc-science downwards only": follow_figures(science, drop),
                        "tried": tried, "rises tried": rises}
    log(f"follow: {json.dumps({k: v for k, v in report['follow'].items() if k not in ('tried', 'rises tried')})}")
    if args.score_dir:
        write_scoring(test_rows, read, {"default": lambda p: default, "drop": drop, "follow": policy},
                      Path(args.score_dir))
        log(f"wrote gold and predictions for mtfix score to {args.score_dir}")
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
    if args.write:
        save_heads(heads, folder, chosen if chosen.low < default or chosen.high is not None else None)
        log(f"wrote {folder / 'document.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

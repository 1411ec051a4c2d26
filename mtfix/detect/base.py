"""Which detector: the methods, the protocol every detector follows, and the one function that loads a detector
by name from a model folder (the shipped models, or a path), with its operating point."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mtfix.detect.bounded import Bounded, Detector
from mtfix.detect.classes import shipped_classes
from mtfix.detect.document import load_follow, load_heads
from mtfix.errors import NotBuiltError
from mtfix.models import MODELS, shipped_detector, shipped_fusion
from mtfix.settings import METHODS, DetectSettings
from mtfix.text.spans import Span
from mtfix.text.tokens import tokenize


class ConstantDetector:
    """The trivial baselines: flag every word (all-bad) or none (all-ok)."""

    def __init__(self, bad: bool) -> None:
        self.name = "all-bad" if bad else "all-ok"
        self.bad = bad

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        if not self.bad:
            return [[] for _ in texts]
        return [[Span(t.start, t.end, "artifact", 1.0) for t in tokenize(text)] for text in texts]


def default_method(fast: bool = False, model_path: str | None = None) -> str:
    """fused when a fusion head is there (and not ``fast``), else the tagger; for the shipped models, or for the
    detector folder ``model_path``. No detector anywhere is an error, never a silent fall back to a weaker method."""
    if model_path:
        return "fused" if (Path(model_path) / "fused" / "config.json").exists() and not fast else "model"
    if shipped_fusion() and not fast:
        return "fused"
    if shipped_detector():
        return "model"
    from mtfix.models import looked_in

    raise NotBuiltError(f"no detector found (looked in {looked_in()}): give --model FOLDER or set MTFIX_MODELS, or "
                        "--method spell for the spelling baseline")


def get_detector(method: str = "spell", threshold: float | None = None, model_path: str | None = None,
                 batch_size: int = 32, lm_gate: float | None = None, alone: bool = False, follow: bool = True
                 ) -> Detector:
    """The detector for ``method``; ``threshold`` (and, for the fused detector, ``lm_gate``) None keeps the
    detector's own default, which for the fused detector follows the document where its folder holds a fitted
    threshold that follows it (follow_cut and follow_low in points.json) and ``follow`` is true; ``alone``: a fused
    head fitted to read each segment after the previous ones reads every segment alone (for inputs whose segments
    are unrelated sentences)."""
    if method in ("all-ok", "all-bad"):
        return ConstantDetector(method == "all-bad")
    if method == "spell":
        from mtfix.detect.spell import SpellDetector

        return Bounded(SpellDetector(), shipped_classes())
    if method in ("model", "fused"):
        path = Path(model_path) if model_path else shipped_detector()
        if path is None or not (path / "config.json").exists():
            raise NotBuiltError(f"no trained detector at {path or MODELS / 'detector'}; use --method spell "
                                "or train one with 'mtfix train detector'")
        if method == "fused":
            fusion = path / "fused"
            if not (fusion / "config.json").exists():
                raise NotBuiltError(f"no fusion head at {fusion}; use --fast (the tagger alone) or train one "
                                    "with 'mtfix train fusion'")
            from mtfix.detect.fuse import FusedDetector

            fused = FusedDetector.load(str(path), str(fusion), threshold=threshold, batch_size=batch_size,
                                       lm_gate=lm_gate, alone=alone)
            fused.document = load_heads(path).get("fused")
            if threshold is None and follow and not alone:
                # the detector's own operating point follows the document; fitted on documents read in context,
                # text read alone keeps the threshold fitted for it
                fused.follow = load_follow(path)
                if fused.follow is not None:  # the words of a translated document, by the head fitted on them
                    from mtfix.detect.fuse import load_translated

                    fused.translated = load_translated(path)
            return Bounded(fused, shipped_classes(path))
        from mtfix.detect.tagger import TaggerDetector

        tagger = TaggerDetector.load(str(path), threshold=threshold, batch_size=batch_size)
        tagger.document = load_heads(path).get("fast")
        return Bounded(tagger, shipped_classes(path))
    if method == "lm":
        from mtfix.detect.lm import LMDetector

        return Bounded(LMDetector(threshold=0.5 if threshold is None else threshold), shipped_classes())
    raise NotBuiltError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def review_point(model_path: str | None = None, alone: bool = False) -> tuple[float, float]:
    """The fused detector's review point: its review threshold (for text read alone with ``alone``, where the head
    reads context and has one fitted for that) and an LM gate of 0 (every segment read)."""
    path = Path(model_path) if model_path else shipped_detector()
    config = path / "fused" if path else None
    review = None
    if config is not None and (config / "config.json").exists():
        import json

        from mtfix.detect.fuse import FusionConfig
        from mtfix.points import read_points

        points = read_points(path)
        context = json.loads((config / "config.json").read_text()).get("context", 0)
        review = FusionConfig(context=context, review_threshold=points.get("review"),
                              alone_review_threshold=points.get("alone_review")).review_point(alone)
    if review is None:
        folder = path or MODELS / "detector"
        raise NotBuiltError(f"no review point in {folder / 'points.json'}; fit one with scripts/fit_review_point.py "
                            f"--write {folder}, or set one: mtfix train calibrate {folder} --set review=P")
    return float(review), 0.0


def settings_point(settings: DetectSettings) -> tuple[float | None, float | None]:
    """The threshold and the LM gate ``settings`` read at (None: the detector's own); --review gives its point's."""
    if settings.review:
        return review_point(settings.model, settings.alone)
    return settings.threshold, settings.lm_gate


def load_detector(settings: DetectSettings) -> Detector:
    """The detector ``settings`` describe (on the CPU; mtfix.device.place moves it): --method, else the fused
    detector where there is one (the tagger with --fast), at the settings' operating point."""
    threshold, lm_gate = settings_point(settings)
    return get_detector(settings.method or default_method(settings.fast, settings.model), threshold, settings.model,
                        settings.batch_size, lm_gate, settings.alone)

"""Detection: flagged spans with a confidence. base.py picks and loads a detector (the fused detector by default:
tagger.py, lm.py, candidates.py and pivot.py give it evidence, fuse.py joins it, classes.py names each span's
kind); bounded.py says what a detector is and keeps time linear in the input; batching.py reads streams of
segments in order."""
from mtfix.detect.base import (
    METHODS,
    ConstantDetector,
    default_method,
    get_detector,
    load_detector,
    review_point,
    settings_point,
)
from mtfix.detect.batching import BEFORE_CHARS, batched, detect_segments, document_head, record_id
from mtfix.detect.bounded import MAX_PIECE, MAX_WORD, Bounded, Detector, detect_texts, pieces, read_as_is, reads_context

__all__ = ["BEFORE_CHARS", "MAX_PIECE", "MAX_WORD", "METHODS", "Bounded", "ConstantDetector", "Detector", "batched",
           "default_method", "detect_segments", "detect_texts", "document_head", "get_detector", "load_detector",
           "pieces", "read_as_is", "reads_context", "record_id", "review_point", "settings_point"]

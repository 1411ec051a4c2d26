"""The Python API: `mtfix.load()` returns one object whose verbs run the stages."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from mtfix.detect import Detector, detect_texts, document_head, load_detector, read_as_is
from mtfix.detect.document import Tally, rounded, text_probabilities
from mtfix.models import is_rewriter, shipped_corrector, shipped_rewriter
from mtfix.settings import CorrectSettings, DetectSettings
from mtfix.text.formats import Document, Segment
from mtfix.text.spans import Edit, Span, apply_edits


@dataclass(frozen=True)
class Fixed:
    """One text after detection and correction: its spans, the edits proposed for them, and the fixed text."""

    text: str
    spans: list[Span]
    edits: list[Edit]
    fixed: str

    def to_json(self) -> dict[str, Any]:
        """The correction format."""
        return Document(self.text, self.spans, edits=self.edits, fixed=self.fixed).to_json()


class MTFix:
    """Detects MT artifacts and proposes fixes; the corrector loads on first use: the LM rewriter (models/rewriter)
    by default, or a span decoder (models/corrector, --conservative), which reads the detector's encoder states so
    that one encoder pass serves both."""

    def __init__(self, detector: Detector, corrector: Any = None, corrector_path: str | None = None,
                 min_score: float | None = None, swap_score: float | None = None, device: str = "cpu") -> None:
        from mtfix.device import place

        self.detector = detector
        self._corrector = corrector
        self.corrector_path = corrector_path
        self.min_score, self.swap_score = min_score, swap_score
        self.device = device
        if device != "cpu":
            place(detector, device)

    def detect(self, texts: Sequence[str] | str, before: str | None = None, threshold: float | None = None,
               tallies: list[Tally] | None = None, prior: Tally | None = None, one_document: bool | None = None,
               documents: Sequence[int] | None = None) -> list[list[Span]]:
        """Flagged spans for each text (a single string is taken as one text). The texts are read as consecutive
        segments of one document (``before``: the text that came before them) where the detector reads context;
        load(alone=True) reads each alone. ``threshold``: this call's operating point (None: the detector's, which
        follows the document: the texts' together, after ``prior``, the tally of what came before, or each
        text's own with ``one_document`` False; None: together where the detector reads context); ``tallies``: a
        list that gets what was read of each text, for ``mt_probability``; ``documents``: the texts are lines
        of several documents, this many each, each read after its own lines only and one document for the
        threshold (one batch for several documents)."""
        if isinstance(texts, str):
            texts = [texts]
        return detect_texts(self.detector, list(texts), before, threshold, tallies,
                            self._prior(prior, one_document, documents), documents)

    def _prior(self, prior: Tally | None, one_document: bool | None, documents: Sequence[int] | None = None
               ) -> Tally | None:
        """What a call's texts are read after as one document (None: each text its own, or with ``documents``
        each document's texts together)."""
        from mtfix.detect import reads_context

        if one_document is None:
            one_document = prior is not None or (documents is None and reads_context(self.detector))
        return (prior or Tally()) if one_document else None

    def mt_probability(self, tallies: Sequence[Tally]) -> float | None:
        """The calibrated probability that the text whose segments gave ``tallies`` (from ``detect`` or ``fix``)
        went through machine translation; None where the detector has no document head or read no word."""
        head = document_head(self.detector)
        if head is None or not tallies:
            return None
        return rounded(head.probability(sum(tallies, Tally())))

    def _translated(self, counted: Sequence[Tally], prior: Tally | None, threshold: float | None, n: int,
                    documents: Sequence[int] | None = None) -> list[bool] | None:
        """Per text, whether its document reads as translated where the detector's threshold follows the document
        (no ``threshold`` given, a fitted follow_cut): then the corrector's bars follow it too. The document is
        the texts together after ``prior``, each document's texts together (``documents``), or each text alone;
        None where nothing follows."""
        follow = getattr(self.detector, "follow", None)
        head = document_head(self.detector)
        if threshold is not None or follow is None or head is None or len(counted) != n:
            return None
        return [follow.translated(p) for p in text_probabilities(head, counted, prior, documents)]

    @property
    def corrector(self) -> Any:
        if self._corrector is None:
            self._corrector = self._load_corrector()
            if self.device != "cpu":
                from mtfix.device import place

                place(self._corrector, self.device)
        return self._corrector

    def _load_corrector(self) -> Any:
        """The corrector: the LM rewriter by default, a span decoder where the folder holds one."""
        from mtfix.correct.span_decoder import Corrector, TaggerEncoder, encoder_mismatch
        from mtfix.errors import NotBuiltError

        path = self.corrector_path or shipped_rewriter() or shipped_corrector()
        if path is None:
            from mtfix.models import looked_in

            raise NotBuiltError(f"no corrector found (looked in {looked_in()}): give --corrector FOLDER or set "
                                "MTFIX_MODELS, or train one with 'mtfix train rewriter'")
        if is_rewriter(path):
            from mtfix.correct.rewriter import RewriteCorrector

            # on the detector's SmolLM2 when it has one: one base model in memory
            return RewriteCorrector.load(str(path), lm=getattr(self.detector, "scorer", None),
                                         min_score=self.min_score, swap_score=self.swap_score,
                                         generator=getattr(self.detector, "generator", None))
        tagger = _tagger_of(self.detector)
        mismatch = encoder_mismatch(path, tagger.model) if tagger is not None else None
        if mismatch:
            raise NotBuiltError(mismatch)
        encoder = TaggerEncoder(tagger.model, tagger.tokenizer) if tagger is not None else None
        return Corrector.load(str(path), encoder=encoder, min_score=self.min_score, swap_score=self.swap_score,
                              lm=getattr(self.detector, "scorer", None),
                              generator=getattr(self.detector, "generator", None))

    def correct(self, text: str, spans: Sequence[Span]) -> list[Edit]:
        """Edits for the spans of one text (an edit only where it beats keeping the original)."""
        return self.corrector.correct([text], [list(spans)])[0]

    def fix(self, texts: Sequence[str] | str, before: str | None = None, threshold: float | None = None,
            tallies: list[Tally] | None = None, prior: Tally | None = None, one_document: bool | None = None,
            documents: Sequence[int] | None = None) -> list[Fixed]:
        """Detect and correct each text; the fixed text applies every proposed edit (the texts read as ``detect``
        reads them, at ``threshold`` where given; ``tallies``, ``prior``, ``one_document`` and ``documents`` as
        ``detect`` takes them)."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        corrector = self.corrector
        tagger = _tagger_of(self.detector)
        # the corrector reuses the tagger's states when the tagger read the texts as they are (not in pieces)
        encoder = getattr(corrector, "encoder", None)  # the span decoder's; the LM rewriter reads the text itself
        shared = encoder is not None and encoder.kind == "tagger" and tagger is not None and \
            tagger.model is corrector.encoder.tagger and all(read_as_is(t) for t in texts)
        if shared:
            tagger.share = corrector.encoder.shared
        try:
            counted: list[Tally] = []
            prior = self._prior(prior, one_document, documents)
            spans = detect_texts(self.detector, texts, before, threshold, counted, prior, documents)
            if tallies is not None:
                tallies += counted
            given = [[s for s in found if not overlong(s)] for found in spans]
            translated = self._translated(counted, prior, threshold, len(texts), documents)  # the bars follow
            edits = corrector.correct(texts, given, translated)
        finally:
            if shared:
                tagger.share = None
                corrector.encoder.shared.clear()
        return [Fixed(t, s, e, apply_edits(t, e)) for t, s, e in zip(texts, spans, edits)]


def overlong(span: Span) -> bool:
    """A word too long to be English, flagged but never given to the corrector (see detect.pieces)."""
    return (span.evidence or {}).get("kind") == "overlong word"


def fix_segments(mt: MTFix, segments: Iterable[Segment], batch_size: int = 32, whole: bool = False
                 ) -> Iterator[tuple[Segment, Document | None]]:
    """Each readable segment with its correction result, in input order; unreadable ones with None; each with its
    document's MT probability where the detector has a document head (``whole``: the segments are one
    document)."""
    from mtfix.detect import batched, reads_context, record_id

    return batched(segments, batch_size, mt.fix, lambda seg, f: Document(
        f.text, f.spans, id=record_id(seg), edits=f.edits, fixed=f.fixed), reads_context(mt.detector),
        document_head(mt.detector), whole)


def _tagger_of(detector: Any) -> Any:
    """The TaggerDetector inside a detector (itself, or the fused detector's), if any."""
    from mtfix.detect.tagger import TaggerDetector

    detector = getattr(detector, "inner", detector)  # a Bounded detector's own
    if isinstance(detector, TaggerDetector):
        return detector
    inner = getattr(detector, "tagger", None)
    return inner if isinstance(inner, TaggerDetector) else None


def load(method: str | None = None, **options: Any) -> MTFix:
    """Load mtfix offline: the shipped fused detector by default (``fast``: the tagger alone), or ``method``
    ('fused', 'model', 'spell', 'lm', ...); the keywords are the fields of settings.DetectSettings and
    settings.CorrectSettings, as the command line's options name them: ``threshold``, ``lm_gate`` (the fused
    detector's LM gate: 0 sends every segment to the language model), ``model``, ``batch_size``, ``device`` (auto: a
    CUDA GPU where there is one, else the CPU; on a GPU, the process's default torch device becomes it), ``review``
    (the fused detector's review point, for one article under review), ``alone`` (each text read alone, not after
    the texts before it: for unrelated sentences); ``corrector`` (a rewriter or span decoder folder instead of the
    LM rewriter of models/rewriter; it loads when first used), ``min_score``, ``swap_score``, ``conservative`` and
    ``round_trip``. Out-of-range numbers, options that do not go together and a missing GPU raise InputError at
    once."""
    from mtfix.settings import split

    return from_settings(*split({"method": method, **options}))


def from_settings(detect: DetectSettings, correct: CorrectSettings) -> MTFix:
    """mtfix with the detector and the corrector these settings describe (what load and the commands use)."""
    from mtfix.device import resolve, use

    correct = correct.resolved()
    where = resolve(detect.device)
    use(where)
    return MTFix(load_detector(detect), corrector_path=correct.corrector, min_score=correct.min_score,
                 swap_score=correct.swap_score, device=where)


def _signature() -> Any:
    """load's signature as help() and editors show it: ``method``, then the settings' fields as keywords."""
    import inspect
    from dataclasses import MISSING, fields

    from mtfix.settings import CorrectSettings, DetectSettings

    keywords = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                  default=None if f.default is MISSING else f.default)
                for cls in (DetectSettings, CorrectSettings) for f in fields(cls) if f.name != "method"]
    first = inspect.Parameter("method", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
    return inspect.Signature([first, *keywords], return_annotation="MTFix")


load.__signature__ = _signature()  # type: ignore[attr-defined]

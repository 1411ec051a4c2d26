"""LanguageTool's `/v2/check` API spoken by mtfix: request parameters, annotated text, UTF-16 offsets and matches.

Pure functions, no web framework: `mtfix/serve/app.py` wires them to HTTP. Offsets on the wire are UTF-16 code
units (Java string indices), as LanguageTool's clients expect; inside mtfix they are code points.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

from mtfix import __version__
from mtfix.text.spans import Edit, Span, span_class
from mtfix.text.tokens import sentence_spans, tokenize

BUILD_DATE = "2026-12-01"
CATEGORY = {"id": "MT_ARTIFACTS", "name": "Machine-translation artifacts"}
# span class -> (rule id, issue type from ITS 2.0, short message, description)
RULES = {
    "wrong-sense": ("MTFIX_WRONG_SENSE", "mistranslation", "Wrong-sense word?",
                    "A word that a round trip through another language may have put in place of another sense"),
    "non-word": ("MTFIX_NON_WORD", "misspelling", "Not a word?", "A word no English lexicon knows"),
    "casing": ("MTFIX_CASING", "typographical", "Stray capital?", "A capital or lower-case letter out of place"),
    "pivot": ("MTFIX_WRONG_SENSE", "mistranslation", "Wrong-sense word?",
              "A word that a round trip through another language may have put in place of another sense"),
    "spelling": ("MTFIX_NON_WORD", "misspelling", "Not a word?", "A word no English lexicon knows"),
    "case": ("MTFIX_CASING", "typographical", "Stray capital?", "A capital or lower-case letter out of place"),
    "spacing": ("MTFIX_SPACING", "whitespace", "Fused or split word?", "Words run together or split apart"),
    "pronoun": ("MTFIX_PRONOUN", "grammar", "Pronoun slip?", "A pronoun that does not agree with what it names"),
    "article": ("MTFIX_ARTICLE", "grammar", "Article slip?", "A missing, extra or wrong article"),
    "omission": ("MTFIX_OMISSION", "omission", "Something missing?", "A word seems to be missing here"),
    "preposition": ("MTFIX_PREPOSITION", "grammar", "Preposition slip?", "A preposition that does not fit here"),
    "repetition": ("MTFIX_REPETITION", "duplication", "Repeated words?", "Words written twice"),
    "name": ("MTFIX_NAME", "mistranslation", "Translated name?",
             "A name or title that a translation may have rendered word by word"),
    "word-order": ("MTFIX_WORD_ORDER", "grammar", "Word order or grammar?",
                   "Words in an order or form that reads like a translation"),
    "overlong word": ("MTFIX_OTHER", "uncategorized", "Overlong word", "A word longer than any English word"),
    "other": ("MTFIX_ARTIFACT", "mistranslation", "MT artifact?",
              "Text that reads like a machine-translation artifact"),
}
LEVELS = ("default", "picky")


class BadRequest(ValueError):
    """A request LanguageTool would answer with 400; the message is the body after 'Error: '."""


class TooLong(ValueError):
    """A text over the server's limit (413)."""


@dataclass
class CheckRequest:
    """What a /v2/check request asks: the plain text to read, and how to map its offsets back."""

    original: str                 # the string the client's offsets refer to (markup included)
    plain: str                    # what mtfix reads (markup replaced by its interpretAs)
    to_original: list[int] = field(default_factory=list)  # plain index -> original index (len(plain) + 1 items)
    language: str = "en-US"
    picky: bool = False
    rules: "RuleFilter | None" = None

    def in_original(self, start: int, end: int) -> tuple[int, int]:
        """A plain-text span's (start, end) in the original string (an end maps after its last character)."""
        if end <= start:
            return self.to_original[start], self.to_original[start]
        return self.to_original[start], self.to_original[end - 1] + 1


def parse_params(body: bytes, query: str) -> dict[str, str]:
    """The request's parameters: the body read as form-encoded whatever its Content-Type says (ltex-ls sends a
    form labelled application/json), then the query string, which overrides it."""
    params: dict[str, str] = {}
    for source in (body, query.encode("latin-1") if isinstance(query, str) else query):
        try:
            text = source.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                              errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("the request is not valid UTF-8") from None
        params.update(pairs)
    return params


def check_request(params: Mapping[str, str], max_length: int) -> CheckRequest:
    """Validate the parameters as LanguageTool does and build the text to check."""
    has_text, has_data = "text" in params, "data" in params
    if has_text == has_data:
        raise BadRequest("exactly one of the parameters 'text' and 'data' is required" if not has_text else
                         "give either 'text' or 'data', not both")
    language = params.get("language")
    if not language:
        raise BadRequest("missing 'language' parameter, e.g. language=en-US (or language=auto)")
    if language != "auto" and not re.fullmatch(r"en(-[A-Za-z]{2,3})?(-.*)?", language):
        raise BadRequest(f"mtfix checks English only; '{language}' is not supported (use en-US or auto)")
    level = params.get("level", "default")
    if level not in LEVELS:
        raise BadRequest(f"'level' must be one of {', '.join(LEVELS)}, not '{level}'")
    if params.get("enabledOnly", "false") == "true" and not (params.get("enabledRules") or
                                                            params.get("enabledCategories")):
        raise BadRequest("You cannot use 'enabledOnly' without 'enabledRules' or 'enabledCategories'")
    if has_text:
        request = CheckRequest(params["text"], params["text"], list(range(len(params["text"]) + 1)))
    else:
        request = annotated(params["data"])
    for name, text in (("text", request.original), ("interpretAs", request.plain)):
        bad = next((i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
        if bad is not None:
            raise BadRequest(f"the {name} holds a lone surrogate (U+{ord(text[bad]):04X} at {bad}), which is not a "
                             "character: send UTF-16 pairs whole")
    if utf16_length(request.original) > max_length:
        raise TooLong(f"text exceeds the limit of {max_length} characters (it has "
                      f"{utf16_length(request.original)}); split it, or start the server with --max-text-length")
    request.language = "en-US" if language == "auto" else language
    request.picky = level == "picky"
    request.rules = RuleFilter.of(params)
    return request


@dataclass(frozen=True)
class RuleFilter:
    """LanguageTool's rule and category switches, over mtfix's rule ids (one per class, RULES) and its one
    category: ``disabledRules`` and ``disabledCategories`` drop matches; with ``enabledOnly=true`` only the
    ``enabledRules`` and ``enabledCategories`` are kept (every mtfix rule is on by default, so ``enabledRules``
    alone changes nothing)."""

    disabled: frozenset[str] = frozenset()
    disabled_categories: frozenset[str] = frozenset()
    enabled: frozenset[str] = frozenset()
    enabled_categories: frozenset[str] = frozenset()
    only: bool = False

    @classmethod
    def of(cls, params: Mapping[str, str]) -> "RuleFilter":
        def ids(name: str) -> frozenset[str]:
            return frozenset(x.strip() for x in params.get(name, "").split(",") if x.strip())

        return cls(ids("disabledRules"), ids("disabledCategories"), ids("enabledRules"), ids("enabledCategories"),
                   params.get("enabledOnly", "false") == "true")

    def allows(self, rule_id: str, category: str) -> bool:
        if rule_id in self.disabled or category in self.disabled_categories:
            return False
        return not self.only or rule_id in self.enabled or category in self.enabled_categories


def annotated(data: str) -> CheckRequest:
    """LanguageTool's annotated text: text parts are read as they are, each markup part as its interpretAs (or
    nothing); offsets map back into the original string, markup included."""
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as err:
        raise BadRequest(f"'data' is not valid JSON ({err.msg})") from None
    except RecursionError:
        raise BadRequest("'data' is nested too deeply") from None
    parts = obj.get("annotation") if isinstance(obj, dict) else None
    if not isinstance(parts, list):
        raise BadRequest("'data' must be a JSON object with an 'annotation' array")
    original, plain, to_original = [], [], []
    at = 0
    for part in parts:
        if not isinstance(part, dict):
            raise BadRequest("each item of 'annotation' must be an object with 'text' or 'markup'")
        if isinstance(part.get("text"), str):
            text = part["text"]
            to_original += range(at, at + len(text))
            plain.append(text)
        elif isinstance(part.get("markup"), str):
            text = part["markup"]
            shown = part.get("interpretAs", "")
            if not isinstance(shown, str):
                raise BadRequest("'interpretAs' must be a string")
            to_original += [at] * len(shown)
            plain.append(shown)
        else:
            raise BadRequest("each item of 'annotation' must have a string 'text' or 'markup'")
        original.append(text)
        at += len(text)
    to_original.append(at)
    return CheckRequest("".join(original), "".join(plain), to_original)


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


class Utf16:
    """Code-point index -> UTF-16 index for one string, in O(1) after one pass."""

    def __init__(self, text: str) -> None:
        self.prefix = [0]
        for c in text:
            self.prefix.append(self.prefix[-1] + (2 if ord(c) > 0xFFFF else 1))

    def __call__(self, index: int) -> int:
        return self.prefix[index]


def segments(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each line of ``text`` (the unit mtfix reads), empty lines left out."""
    out, start = [], 0
    for m in re.finditer(r"\r\n|\n|\r|\u2028|\u2029", text):
        if text[start:m.start()].strip():
            out.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        out.append((start, len(text)))
    return out


@dataclass
class Found:
    """One span of the plain text with its replacements (value, confidence), best first."""

    span: Span
    replacements: list[tuple[str, float]]


def found_spans(plain: str, spans: Sequence[Span], edits: Sequence[Edit]) -> list[Found]:
    """Each span with the corrector's edit for it (and its alternatives), else the candidate the detector's
    evidence named (scored with the span's own probability)."""
    out = []
    for span in spans:
        inside = [e for e in edits if e.start < max(span.end, span.start + 1) and span.start < max(e.end, e.start + 1)]
        replacements: list[tuple[str, float]] = []
        for edit in inside:
            if edit.start == span.start and edit.end == span.end:
                replacements.append((edit.replacement, float(edit.score)))
                replacements += [(alt, 0.0) for alt in edit.alternatives]
        candidate = (span.evidence or {}).get("candidate")
        if isinstance(candidate, str) and candidate not in [r for r, _ in replacements] and \
                candidate != plain[span.start:span.end]:
            replacements.append((candidate, float(span.score)))
        out.append(Found(span, replacements))
    return out


def matches(request: CheckRequest, found: Iterable[Found], context_chars: int = 40) -> list[dict[str, Any]]:
    """LanguageTool matches for the spans mtfix found in ``request.plain``, offsets in UTF-16 units of the
    original string; a zero-width span becomes a match over its neighbouring word, inserting before it."""
    original, plain = request.original, request.plain
    units = Utf16(original)
    sentences = sentence_spans(plain)
    tokens = None
    out = []
    for item in found:
        span = item.span
        start, end, replacements = span.start, span.end, item.replacements
        kind = span_class(span)
        if start == end:  # something missing: the match covers the next word (or the previous one at the end)
            kind = "omission" if kind in ("artifact", "other") else kind
            tokens = tokens if tokens is not None else tokenize(plain)
            after = next((t for t in tokens if t.start >= start), None)
            before = next((t for t in reversed(tokens) if t.end <= start), None)
            word = after or before
            if word is None:
                continue
            if word is after:
                replacements = [(f"{r} {plain[word.start:word.end]}".strip(), c) for r, c in replacements]
            else:
                replacements = [(f"{plain[word.start:word.end]} {r}".strip(), c) for r, c in replacements]
            start, end = word.start, word.end
        o_start, o_end = request.in_original(start, end)
        if original[o_start:o_end] != plain[start:end]:
            continue  # the span lies in markup read as its interpretAs: no match could be accepted there safely
        if o_end <= o_start:
            o_end = min(len(original), o_start + 1)
        rule_id, issue, short, description = RULES.get(kind, RULES["other"])
        if request.rules is not None and not request.rules.allows(rule_id, CATEGORY["id"]):
            continue
        offset, length = units(o_start), units(o_end) - units(o_start)
        c_start, c_end = max(0, o_start - context_chars), min(len(original), o_end + context_chars)
        sentence = next((plain[a:b] for a, b in sentences if a <= start < b), plain[start:end])
        evidence = span.evidence or {}
        message = f"{description}: mtfix gives it {span.score:.0%}"
        if evidence.get("candidate") and kind in ("pivot", "wrong-sense") and evidence.get("kind") == "pivot":
            message += f"; '{evidence['candidate']}' reads more naturally here"
        out.append({
            "message": message + ".",
            "shortMessage": short,
            "replacements": [{"value": value, "confidence": round(conf, 4)} for value, conf in replacements],
            "offset": offset,
            "length": max(1, length),
            "context": {"text": original[c_start:c_end], "offset": units(o_start) - units(c_start),
                        "length": max(1, length)},
            "sentence": sentence,
            "type": {"typeName": "Other"},
            "rule": {"id": rule_id, "description": description, "issueType": issue, "category": dict(CATEGORY)},
            "ignoreForIncompleteSentence": False,
            "contextForSureMatch": 0,
            "mtfix": {"score": round(float(span.score), 4), "class": kind, "label": span.label,
                      **({"evidence": evidence} if evidence else {})},
        })
    return out


def response(request: CheckRequest, found: Iterable[Found]) -> dict[str, Any]:
    """The whole /v2/check answer."""
    units = Utf16(request.original)
    ranges = [[units(a), units(b)] for a, b in (request.in_original(*s) for s in sentence_spans(request.plain))]
    return {
        "software": {"name": "mtfix", "version": __version__, "buildDate": BUILD_DATE, "apiVersion": 1,
                     "premium": False, "premiumHint": "", "status": ""},
        "warnings": {"incompleteResults": False},
        "language": {"name": "English (US)" if request.language in ("en-US", "en") else "English",
                     "code": request.language,
                     "detectedLanguage": {"name": "English (US)", "code": "en-US", "confidence": 1.0,
                                          "source": "mtfix"}},
        "matches": matches(request, found),
        "sentenceRanges": ranges,
    }


LANGUAGES = [{"name": "English", "code": "en", "longCode": "en"},
             {"name": "English (US)", "code": "en", "longCode": "en-US"},
             {"name": "English (GB)", "code": "en", "longCode": "en-GB"},
             {"name": "English (Australian)", "code": "en", "longCode": "en-AU"},
             {"name": "English (Canadian)", "code": "en", "longCode": "en-CA"}]

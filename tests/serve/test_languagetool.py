import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtfix.serve.languagetool import (
    BadRequest,
    TooLong,
    Utf16,
    annotated,
    check_request,
    found_spans,
    matches,
    parse_params,
    response,
    segments,
    utf16_length,
)
from mtfix.text.spans import Edit, Span


@given(st.text())
def test_utf16_offsets_agree_with_python_encoding(text):
    units = Utf16(text)
    for i in range(len(text) + 1):
        assert units(i) == len(text[:i].encode("utf-16-le")) // 2
    assert utf16_length(text) == units(len(text))


def test_parameters_come_from_the_body_whatever_it_is_labelled_and_the_query_overrides():
    params = parse_params(b"text=caf%C3%A9+%F0%9F%98%80&language=de-DE", "language=en-US")
    assert params == {"text": "café 😀", "language": "en-US"}
    with pytest.raises(BadRequest, match="UTF-8"):
        parse_params(b"text=%FF%FE", "")


@pytest.mark.parametrize("params, message", [
    ({"language": "en-US"}, "exactly one"),
    ({"text": "a", "data": "{}", "language": "en-US"}, "not both"),
    ({"text": "a"}, "missing 'language'"),
    ({"text": "a", "language": "de-DE"}, "English only"),
    ({"text": "a", "language": "en-US", "level": "loud"}, "'level' must be"),
    ({"text": "a", "language": "en-US", "enabledOnly": "true"}, "enabledOnly"),
    ({"data": "{not json", "language": "en-US"}, "not valid JSON"),
    ({"data": '{"annotation": 3}', "language": "en-US"}, "annotation"),
])
def test_bad_parameters(params, message):
    with pytest.raises(BadRequest, match=message):
        check_request(params, 1000)


def test_auto_and_english_variants_are_english_and_the_limit_counts_utf16():
    assert check_request({"text": "a", "language": "auto"}, 10).language == "en-US"
    assert check_request({"text": "a", "language": "en-GB", "enabledOnly": "true", "enabledRules": "X"},
                         10).language == "en-GB"
    with pytest.raises(TooLong):
        check_request({"text": "😀" * 6, "language": "en"}, 11)  # 6 code points, 12 UTF-16 units


def test_annotated_text_maps_offsets_back_through_markup():
    data = json.dumps({"annotation": [{"text": "A "}, {"markup": "<b>"}, {"text": "pariad"}, {"markup": "</b>"},
                                      {"markup": "<br/>", "interpretAs": "\n"}, {"text": "gap here"}]})
    request = annotated(data)
    assert request.original == "A <b>pariad</b><br/>gap here" and request.plain == "A pariad\ngap here"
    start = request.plain.index("pariad")
    a, b = request.in_original(start, start + 6)
    assert request.original[a:b] == "pariad"
    a, b = request.in_original(request.plain.index("gap"), request.plain.index("gap") + 3)
    assert request.original[a:b] == "gap"


def test_a_zero_width_span_becomes_an_insertion_over_the_next_word_and_emoji_count_twice():
    text = "😀 one gap here."
    request = check_request({"text": text, "language": "en-US"}, 1000)
    at = text.index("gap")
    found = found_spans(text, [Span(at, at, "artifact", 0.6, evidence={"kind": "article", "candidate": "a"})], [])
    (match,) = matches(request, found)
    assert match["offset"] == at + 1 and match["length"] == 3  # the emoji is two UTF-16 units
    assert match["replacements"] == [{"value": "a gap", "confidence": 0.6}]
    assert match["rule"]["id"] == "MTFIX_ARTICLE" and match["rule"]["issueType"] == "grammar"


def test_the_response_has_every_field_clients_read():
    text = "The two guides met.\nIt was a pariad."
    request = check_request({"text": text, "language": "en-US"}, 1000)
    spans = [Span(8, 14, "artifact", 0.8, evidence={"kind": "pivot", "candidate": "leaders"})]
    edits = [Edit(8, 14, "leaders", 0.9, ("heads",))]
    body = response(request, found_spans(text, spans, edits))
    assert body["software"]["apiVersion"] == 1 and body["software"]["premium"] is False
    assert body["language"]["detectedLanguage"]["code"] == "en-US"
    (m,) = body["matches"]
    assert [r["value"] for r in m["replacements"]] == ["leaders", "heads"]
    assert m["sentence"] == "The two guides met." and m["shortMessage"] and m["context"]["text"][
        m["context"]["offset"]:m["context"]["offset"] + m["context"]["length"]] == "guides"
    assert {"type", "rule", "ignoreForIncompleteSentence", "contextForSureMatch"} <= set(m)
    assert body["sentenceRanges"] == [[0, 19], [20, 36]]
    assert segments("a\n\nb\r\nc") == [(0, 1), (3, 4), (6, 7)]

"""Real apertium round trips: .ci/run installs apertium and its pairs from Debian."""
from mtfix.data.roundtrip import PIVOTS, artifact_spans, check_apertium, round_trip
from mtfix.text.spans import apply_edits, gold_edits


def test_real_round_trip_gives_spans_that_restore_the_original():
    check_apertium(list(PIVOTS))
    sentences = ["The two leaders discussed the need to improve bilateral relations.",
                 "Their counties were hit hard by the drought this year."]
    trips = round_trip("spa", sentences)
    assert len(trips) == 2 and all(trips)
    assert trips != sentences
    for original, trip in zip(sentences, trips):
        found = artifact_spans(original, trip)
        assert found is not None
        text, spans = found
        assert apply_edits(text, gold_edits(spans)) == original


def test_apertium_quirks_are_undone_not_learned():
    text, spans = artifact_spans("Kinsler signed a  deal with the team.", "Kinsler Signed a deal with the squad.")
    assert text == "Kinsler signed a  deal with the squad."
    assert [(text[s.start:s.end], s.fixes[0]) for s in spans] == [("squad", "team")]


def test_garbled_round_trip_is_dropped():
    assert artifact_spans("one two three four", "uno dos tres cuatro") is None
    assert artifact_spans("a plain line here", "a #plain line here") is None

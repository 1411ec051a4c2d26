from mtfix.render import diff_text
from mtfix.text.spans import Edit, Span

TEXT = "the two guides met in one Explosion here"


def styled(line):
    return [(line.plain[s.start:s.end], str(s.style)) for s in line.spans]


def test_diff_shows_deletions_insertions_scores_and_unfixed_flags():
    line = diff_text(TEXT, [Edit(8, 14, "leaders", 0.9), Edit(22, 26, "", 0.61)], unfixed=[Span(26, 35)])
    assert line.plain == "the two guidesleaders[0.90] met in one [0.61]Explosion here"
    got = styled(line)
    assert ("guides", "bold red strike") in got and ("leaders", "bold green") in got
    assert ("one ", "bold red strike") in got and ("Explosion", "underline yellow") in got
    assert ("[0.90]", "dim") in got


def test_diff_focus_underlines_the_edit_under_review_and_inserts_show_green():
    line = diff_text(TEXT, [Edit(3, 3, " very", 0.7)], focus=0)
    assert line.plain == "the very[0.70] two guides met in one Explosion here"
    assert (" very", "bold green underline") in styled(line)

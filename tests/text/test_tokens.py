import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtfix.text.tokens import detokenize, is_word, tokenize


def words(text):
    return [t.text for t in tokenize(text)]


@pytest.mark.parametrize("text,expected", [
    ("the Russia’s state media", ["the", "Russia", "’s", "state", "media"]),
    ("When the 2½-hour call", ["When", "the", "2½-hour", "call"]),
    ("it is non -involved In", ["it", "is", "non", "-", "involved", "In"]),
    ("energy projectsWhich could", ["energy", "projectsWhich", "could"]),
    ("“the most important” – it", ["“", "the", "most", "important", "”", "–", "it"]),
    ("sides—and 1,000.5 dollars…", ["sides", "—", "and", "1,000.5", "dollars", "…"]),
    ("line one\r\nline\xa0two", ["line", "one", "line", "two"]),
    ("don't O'Brien players' ball", ["don", "'t", "O'Brien", "players", "'", "ball"]),
    ("Wait... what?!", ["Wait", "...", "what", "?", "!"]),
])
def test_tokenize(text, expected):
    assert words(text) == expected


def test_offsets_of_crlf_and_nbsp():
    text = "a\r\nb\xa0c"
    assert [(t.start, t.end) for t in tokenize(text)] == [(0, 1), (3, 4), (5, 6)]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_tokens_slice_back_and_lose_nothing(text):
    tokens = tokenize(text)
    cursor = 0
    for tok in tokens:
        assert text[tok.start:tok.end] == tok.text
        assert tok.start >= cursor and tok.end > tok.start
        assert text[cursor:tok.start].strip() == ""  # only whitespace between tokens
        cursor = tok.end
    assert text[cursor:].strip() == ""


def test_is_word():
    assert is_word("Explosion") and is_word("2½") and not is_word("–") and not is_word("...")


@pytest.mark.parametrize("tokens,expected", [
    ("On 17 June , Pétain said \" With a heavy heart \" .", 'On 17 June, Pétain said "With a heavy heart".'),
    ("( see here ) 5 % of it 's", "(see here) 5% of it's"),
    ("non @-@ involved &amp; more", "non-involved & more"),
    ("the players ' ball", "the players' ball"),
])
def test_detokenize(tokens, expected):
    text, offsets = detokenize(tokens.split())
    assert text == expected
    unescaped = {"@-@": "-", "&amp;": "&"}
    for tok, (a, b) in zip(tokens.split(), offsets):
        assert text[a:b] == unescaped.get(tok, tok)


@given(st.lists(st.sampled_from(["word", "Word", ",", ".", '"', "(", ")", "'s", "n't", "%", "$", "@-@", "'", "-"]),
                max_size=20))
def test_detokenize_offsets_point_at_tokens(tokens):
    text, offsets = detokenize(tokens)
    assert len(offsets) == len(tokens)
    for tok, (a, b) in zip(tokens, offsets):
        assert text[a:b] == ("-" if tok == "@-@" else tok)


def test_sentence_tokens_give_each_sentence_its_token_range():
    from mtfix.text.tokens import sentence_tokens, tokenize

    text = "Dr. Smith came. He left early!  Then rain"
    tokens = tokenize(text)
    ranges = sentence_tokens(text, tokens)
    assert [text[a:b] for _, _, a, b in ranges] == ["Dr. Smith came.", "He left early!", "Then rain"]
    assert [text[tokens[lo].start:tokens[hi - 1].end] for lo, hi, _, _ in ranges] == [
        "Dr. Smith came.", "He left early!", "Then rain"]
    assert ranges[0][0] == 0 and ranges[-1][1] == len(tokens)
    assert all(prev[1] == cur[0] for prev, cur in zip(ranges, ranges[1:]))
    assert sentence_tokens("", []) == []

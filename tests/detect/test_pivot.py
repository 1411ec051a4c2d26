import gc

import pytest

from mtfix.detect.pivot import MissingDictionary, PivotDictionary, gc_paused, parse

LINES = [
    "# comment",
    "Führer {m}; Lenker {m} [pol.] | Führer {pl} :: leader | leaders",
    "Führer {m} (Handbuch) | Führer {pl} :: guidebook; guide | guidebooks; guides",
    "zurücktreten {vi} | zurücktretend :: to resign | resigning",
    "zurücktreten {vi} (einen Schritt) :: to stand back; to step back",
    "etw. drucken {vt} :: to print sth.",
]


def test_parse_and_siblings():
    en2de, de2en = parse(LINES)
    d = PivotDictionary(en2de, de2en)
    assert d.translations("leader") == {"Führer", "Lenker"}
    assert "guide" in d.siblings("leader") and d.siblings("leader")["guide"] == {"Führer"}
    assert "guides" in d.siblings("leaders")
    assert {"stand back", "step back"} <= set(d.siblings("resign"))
    assert "leader" not in d.siblings("leader")
    for word in ("leader", "leaders", "guide", "resign", "Leader", "print", "unknown"):
        assert d.sibling_words(word) == set(d.siblings(word))


def test_load_from_a_file_and_cache(tmp_path):
    path = tmp_path / "de-en"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    first = PivotDictionary.load(path, cache=tmp_path / "cache")
    assert list((tmp_path / "cache").glob("pivot-*.pickle"))
    again = PivotDictionary.load(path, cache=tmp_path / "cache")
    assert again.siblings("leader") == first.siblings("leader")


def test_the_collector_is_paused_while_a_table_loads_and_left_as_it_was(tmp_path):
    path = tmp_path / "de-en"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    seen = []
    real = PivotDictionary.__init__

    def record(self, en2de, de2en):
        seen.append(gc.isenabled())
        real(self, en2de, de2en)

    PivotDictionary.__init__ = record
    try:
        PivotDictionary.load(path, cache=tmp_path / "cache")            # parsed
        PivotDictionary.load(path, cache=tmp_path / "cache")            # unpickled
    finally:
        PivotDictionary.__init__ = real
    assert seen == [True, False] and gc.isenabled()  # off while unpickling; on again after, and after the parse
    with pytest.raises(ValueError):
        with gc_paused():
            assert not gc.isenabled()
            raise ValueError("a failed load")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own pause is kept
    finally:
        gc.enable()


def test_missing_dictionary_says_how_to_install(tmp_path):
    try:
        PivotDictionary.load(tmp_path / "nope")
    except MissingDictionary as err:
        assert "apt-get install trans-de-en" in str(err)
    else:
        raise AssertionError("no error for a missing dictionary")

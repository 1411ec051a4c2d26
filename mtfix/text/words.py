"""Word lists that several stages share: function words, articles, prepositions, auxiliaries, pronouns; and the
words of a string."""
import re

STOP = set("""a an the and or but if of in on at to for from by with as is are was were be been being has have
had do does did will would can could should may might must shall this that these those it its his her their
our your my he she they we you i me him them us who whom which what when where why how not no so than then
there here also very just only about into over after before under up down out off""".split())
ARTICLES = {"a", "an", "the"}
PREPOSITIONS = ["of", "in", "at", "for", "on", "to", "from", "with", "by"]
AUXILIARIES = {"has", "have", "had", "will", "would", "can", "could", "should", "must", "is", "are", "was", "were"}
PRONOUNS = {"he", "she", "it", "they", "his", "her", "its", "their", "him", "them", "hers", "theirs"}


def words_of(s: str) -> list[str]:
    """The words of ``s`` (letters and digits, with inner apostrophes and hyphens)."""
    return re.findall(r"[^\W_]+(?:['’-][^\W_]+)*", s)

"""The views that veto or cut: an item's figures (numbers, scores, weekdays) and the footer each
source repeats under its summaries."""

from __future__ import annotations

import re
from typing import Any

from aggregator.text.arabic import western_digits

# --- figures: numbers (two or more digits, decimals, scores; years left out) and weekdays
_ANY_DIGIT = re.compile(r"[0-9\u0660-\u0669\u06f0-\u06f9]")
_LAST_DIGIT = re.compile(r".*[0-9\u0660-\u0669\u06f0-\u06f9]", re.DOTALL)  # up to the last
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_SCORE = re.compile(r"(?<![0-9.,])([0-9]{1,2}) ?[-\u2013] ?([0-9]{1,2})(?![0-9.,])")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_WEEKDAYS = {word: day for day, words in enumerate((
    ("الاثنين", "monday", "lundi", "понедельник"), ("الثلاثاء", "tuesday", "mardi", "вторник"),
    ("الاربعاء", "wednesday", "mercredi", "среда"), ("الخميس", "thursday", "jeudi", "четверг"),
    ("الجمعه", "friday", "vendredi", "пятница"), ("السبت", "saturday", "samedi", "суббота"),
    ("الاحد", "sunday", "dimanche", "воскресенье"))) for word in words}
_ANY_WEEKDAY = re.compile("|".join(_WEEKDAYS))


def _number(token: str) -> str | None:
    """One spelling per value: 1,000 = 1000; 6,2 = 6.2; 62.50 = 62.5. None: too weak to use."""
    if "," in token:
        token = token.replace(",", "" if _THOUSANDS.fullmatch(token) else ".")
    whole, _, fraction = token.partition(".")
    fraction = fraction.replace(".", "").rstrip("0")
    whole = whole.lstrip("0") or "0"
    if fraction:
        return f"{whole}.{fraction}"
    if len(whole) < 2 or (len(whole) == 4 and whole[:2] in ("19", "20")):
        return None  # one digit says little; a year is shared by unrelated stories
    return whole


# The one empty set every item without figures shares: fewer objects for the cyclic GC, which
# costs more than a tenth of levels 1-2 when each item keeps several small containers.
_NONE: frozenset[Any] = frozenset()


def _figures(text: str) -> frozenset[str]:
    if _ANY_DIGIT.search(text) is None:
        return _NONE
    text = western_digits(text)
    # the score pattern's look-behind is tried at every position: only run it where a dash is
    scores = {"-".join(sorted(m.groups())) for m in _SCORE.finditer(text)} \
        if "-" in text or "\u2013" in text else set()
    if scores:
        text = _SCORE.sub(" ", text)
    numbers = {n for n in map(_number, _NUMBER.findall(text)) if n}
    return frozenset(numbers | {f"score:{s}" for s in scores}) if numbers or scores else _NONE


def _figure_text(title: str, summary: str) -> str:
    """The part of `f"{title} {summary}"` whose `_figures` are the whole text's: from the
    character before its first digit to the one after its last ("" without a digit).

    Every number and score starts and ends with a digit, and the patterns look at most one
    character beyond a match (the score's look-behind and look-ahead, a number's separator);
    western_digits() maps one character to one. So the window keeps this (nothing, for most
    items) instead of an item's title and summary, and works its figures out only if a
    comparison needs them (tests/test_window_memory.py compares both on random texts)."""
    text = f"{title} {summary}"
    first = _ANY_DIGIT.search(text)
    if first is None:
        return ""
    start = first.start()
    end = _LAST_DIGIT.match(text, start).end()  # type: ignore[union-attr]  # a digit is there
    return text[max(start - 1, 0):end + 1]


class _Footers:
    """The tail each source repeats under its summaries (a sign-off, "appeared first on ..."):
    learned from two consecutive items of a source, cut before shingling. Without it, every
    item of a source shares its footer's shingles, and its LSH buckets fill with them."""

    MIN = 32  # characters of common tail that count as a footer, not a coincidence
    KEEP = 4  # footers remembered per source

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self._known: dict[str, list[str]] = {}

    def strip(self, source_id: str, words: str) -> str:
        previous, self._last[source_id] = self._last.get(source_id), words
        known = self._known.setdefault(source_id, [])
        for tail in known:
            if words.endswith(tail):
                return words[:-len(tail)].rstrip()
        if previous is None:
            return words
        size = _common_tail(previous, words)
        if size < self.MIN or size >= len(words):
            return words
        tail = words[-size:]
        tail = tail[tail.find(" ") + 1:] if words[-size - 1:-size] not in ("", " ") else tail
        if len(tail) < self.MIN:
            return words
        known.insert(0, tail)
        del known[self.KEEP:]
        return words[:-len(tail)].rstrip()


def _common_tail(a: str, b: str) -> int:
    """Length of the longest common suffix (binary search over C-speed comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[-mid:] == b[-mid:]:
            low = mid
        else:
            high = mid - 1
    return low


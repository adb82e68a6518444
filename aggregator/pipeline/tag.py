"""The tag stage: which configured topics each entry is about. Pure: no I/O, no clock.

Matching rules (what an operator writing `topics:` can rely on):

* Text and terms are compared word by word in their word view (aggregator.text.word_view):
  NFKC, no invisible characters, no diacritics or tatweel, أ إ آ ٱ → ا, ة → ه, ى ی → ي,
  ک → ك, Western digits, case-folded; punctuation and symbols only separate words.
* Whole words only, no suffix: "Iran" does not match "Iranian" (list it if wanted), ترامب does
  not match ترامبولين, "Путин" does not match "Путина" (list Russian case forms). A phrase
  matches the same words in a row whatever punctuation or spacing stands between them.
* Before an Arabic term's first word the text may carry the proclitics (و|ف)?(ب|ك|ل)?(ال)? or
  (و|ف)?لل: أوكرانيا matches وأوكرانيا, بأوكرانيا, لأوكرانيا, فبأوكرانيا, الأوكرانيا. A term
  written with the article needs it in the text, whole or fused into لل: الكرملين matches
  الكرملين, والكرملين, بالكرملين, للكرملين but not كرملين. Nothing else is stripped, so
  بوروسيا (Borussia) is not ب+و+روسيا: و/ف come first.
* A bare alef (no hamza) after a proclitic reads as part of the word when the rest is shorter
  than 5 letters: فانس is Vance, not ف+انس; بايدن is not ب+ايدن; but فأنس is ف+أنس, and
  واوكرانيا, والانتخابات still split. (So an indefinite short word like وامل needs its own term.)
* An Arabic term whose last word ends in ي (a nisba) also matches that word + ين ون ان ات تين
  تان ة: إسرائيلي matches الإسرائيليين, الإسرائيلية. Terms take no other suffix.
* `exclude` terms follow the same rules; any one of them anywhere in the text vetoes the topic.

How it stays fast, whatever the number of terms: every spelling a term can take (proclitics ×
nisba endings, a few dozen) is generated once, when the matcher is built, into dicts from a
spelling (or, for two-word phrases, a pair of words) to the topics it decides. A text is folded
once into its words (word_view + split), and set intersections done in C find every candidate:
the words against the single-word spellings, then, only if some word opens a phrase, the
adjacent word pairs against the two-word spellings. Only phrases of 3+ words and short
bare-alef stems (the hamza) are verified in Python, word by word, and only when their first
word occurs. No regex per term; a text costs about the same with 10 terms or 10,000.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from aggregator.config import TopicConfig
from aggregator.models import Entry
from aggregator.text.arabic import HAMZA_ALEF, word_view

_ALEF = "\u0627"
_ARTICLE = "\u0627\u0644"  # ال
_FUSED_ARTICLE = "\u0644\u0644"  # لل: ل + ال
_CONJUNCTIONS = ("", "\u0648", "\u0641")  # و ف
_PREPOSITIONS = ("", "\u0628", "\u0643", "\u0644")  # ب ك ل
PROCLITICS = tuple(dict.fromkeys(
    [c + p + a for c in _CONJUNCTIONS for p in _PREPOSITIONS for a in ("", _ARTICLE)]
    + [c + _FUSED_ARTICLE for c in _CONJUNCTIONS]))
_WITH_ARTICLE = tuple(p for p in PROCLITICS if p.endswith((_ARTICLE, _FUSED_ARTICLE)))
# Nisba endings (ة is folded to ه): إسرائيلي → إسرائيليين, إسرائيليون, إسرائيلية …
NISBA_ENDINGS = ("", "\u064a\u0646", "\u0648\u0646", "\u0627\u0646", "\u0627\u062a",
                 "\u062a\u064a\u0646", "\u062a\u0627\u0646", "\u0647")
SHORT_STEM = 5  # a bare-alef stem shorter than this does not split from a proclitic


@dataclass(frozen=True, slots=True)
class Match:
    """One occurrence of a configured term in a text (what `aggregator explain` shows)."""

    topic: str  # topic id
    term: str  # the term as written in the configuration
    exclude: bool  # an exclude term: this occurrence vetoes the topic
    start: int  # offset of the first matched word in word_view(text)
    end: int  # offset just past the last matched word in word_view(text)
    found: str  # word_view(text)[start:end], the words as matched


@dataclass(frozen=True, slots=True)
class _Term:
    topic: int  # index of the topic in configuration order
    text: str  # the term as written in the configuration
    exclude: bool  # from `exclude:` rather than `terms:`


@dataclass(frozen=True, slots=True)
class _Spelling:
    """One way a term can start in the text: its first word, and what else must hold."""

    term: _Term
    hamza_at: int  # -1, or where the first word must have أ (short bare-alef stem)
    rest: tuple[frozenset[str], ...]  # allowed forms of each following word of a phrase


def _marks(spellings: Iterable[_Spelling]) -> frozenset[int]:
    """A topic number for each term completed, its complement (~number) for an exclude term."""
    return frozenset(~s.term.topic if s.term.exclude else s.term.topic for s in spellings)


def _is_arabic(word: str) -> bool:
    return "\u0620" <= word[0] <= "\u06ff"


def _spellings(words: list[str]) -> Iterator[tuple[str, int, tuple[frozenset[str], ...]]]:
    """(first word as it may appear, hamza_at, rest) for a term already split into words."""
    last = words[-1]
    endings = NISBA_ENDINGS if _is_arabic(last) and last.endswith("\u064a") else ("",)
    rest: tuple[frozenset[str], ...] = ()
    if len(words) == 1:
        firsts = [last + e for e in endings]
    else:
        firsts = [words[0]]
        rest = (*(frozenset({w}) for w in words[1:-1]), frozenset(last + e for e in endings))
    for first in firsts:
        if not _is_arabic(first):
            yield first, -1, rest
            continue
        stem, proclitics = first, PROCLITICS
        if first.startswith(_ARTICLE) and len(first) >= 4:  # the article must be in the text
            stem, proclitics = first[2:], _WITH_ARTICLE
        short_bare = stem.startswith(_ALEF) and len(stem) < SHORT_STEM
        for p in proclitics:
            needs_hamza = short_bare and p != "" and not p.endswith((_ARTICLE, _FUSED_ARTICLE))
            yield p + stem, len(p) if needs_hamza else -1, rest


def _words(text: str) -> tuple[str, list[str]]:
    """(word view keeping أ, its words with أ folded to ا)."""
    hamza_view = word_view(text, keep_hamza=True)
    return hamza_view, hamza_view.replace(HAMZA_ALEF, _ALEF).split()


class TopicMatcher:
    """All topics' terms compiled once; answers which topics a text is about."""

    def __init__(self, topics: Sequence[TopicConfig]) -> None:
        self._ids = tuple(t.id for t in topics)
        spellings: dict[str, dict[_Spelling, None]] = {}
        for number, topic in enumerate(topics):
            for exclude, terms in ((False, topic.terms), (True, topic.exclude)):
                for text in terms:
                    words = _words(text)[1]
                    if not words:
                        raise ValueError(f"topic {topic.id!r}: term {text!r} has no letters "
                                         "or digits")
                    term = _Term(number, text, exclude)
                    for key, hamza_at, rest in _spellings(words):
                        spellings.setdefault(key, {})[_Spelling(term, hamza_at, rest)] = None
        # Every spelling by first word: matches() verifies them all, one by one.
        self._spellings = {key: tuple(s) for key, s in spellings.items()}
        # For topics_for, single words and two-word phrases decide by set operations alone
        # (marks: topic number, or ~number for a veto); the rest is verified word by word.
        self._marks: dict[str, frozenset[int]] = {}
        checks: dict[str, list[_Spelling]] = {}
        pairs: dict[tuple[str, str], list[_Spelling]] = {}
        for key, group in self._spellings.items():
            self._marks[key] = _marks(s for s in group if s.hamza_at < 0 and not s.rest)
            for s in group:
                if s.hamza_at < 0 and len(s.rest) == 1:
                    for second in s.rest[0]:
                        pairs.setdefault((key, second), []).append(s)
                elif s.hamza_at >= 0 or s.rest:
                    checks.setdefault(key, []).append(s)
        self._checks = {key: tuple(group) for key, group in checks.items()}
        self._pair_marks = {pair: _marks(group) for pair, group in pairs.items()}
        self._keys = frozenset(self._marks)
        self._check_keys = frozenset(self._checks)
        self._pair_openers = frozenset(first for first, _ in pairs)
        self._pair_keys = frozenset(pairs)

    def topics_for(self, text: str) -> tuple[str, ...]:
        """Ids of the topics the text is about, in configuration order."""
        hamza_view, words = _words(text)
        hits = self._keys.intersection(words)
        if not hits:
            return ()
        marks = set().union(*map(self._marks.__getitem__, hits))
        if not hits.isdisjoint(self._pair_openers):
            pairs = self._pair_keys.intersection(itertools.pairwise(words))
            marks.update(*map(self._pair_marks.__getitem__, pairs))
        to_check = hits & self._check_keys
        if to_check:
            hamza_words = hamza_view.split()
            for key in to_check:
                for s in self._checks[key]:
                    mark = ~s.term.topic if s.term.exclude else s.term.topic
                    if mark not in marks and next(
                            _occurrences(s, key, words, hamza_words), None) is not None:
                        marks.add(mark)
        return tuple(self._ids[t] for t in sorted(marks) if t >= 0 and ~t not in marks)

    def matches(self, text: str) -> dict[str, list[Match]]:
        """Every term occurrence per topic id (topics in configuration order), for explaining.

        A topic applies (is in topics_for) when it has a match with exclude False and none
        with exclude True.
        """
        hamza_view, words = _words(text)
        view = hamza_view.replace(HAMZA_ALEF, _ALEF)
        spans, at = [], 0
        for word in words:
            at = view.index(word, at)
            spans.append((at, at + len(word)))
            at += len(word)
        hamza_words = hamza_view.split()
        found: dict[int, dict[Match, None]] = {}
        for key in self._keys.intersection(words):
            for s in self._spellings[key]:
                for first, last in _occurrences(s, key, words, hamza_words):
                    start, end = spans[first][0], spans[last][1]
                    match = Match(self._ids[s.term.topic], s.term.text, s.term.exclude,
                                  start, end, view[start:end])
                    found.setdefault(s.term.topic, {})[match] = None
        return {self._ids[t]: sorted(found[t], key=lambda m: (m.start, m.end, m.exclude))
                for t in sorted(found)}


def _occurrences(s: _Spelling, key: str, words: list[str],
                 hamza_words: list[str]) -> Iterator[tuple[int, int]]:
    """(first, last) word indexes of each place where spelling s (first word key) holds."""
    i = -1
    while True:
        try:
            i = words.index(key, i + 1)
        except ValueError:
            return
        if s.hamza_at >= 0 and hamza_words[i][s.hamza_at] != HAMZA_ALEF:
            continue
        following = words[i + 1:i + 1 + len(s.rest)]
        if len(following) == len(s.rest) and all(w in f for w, f in zip(following, s.rest,
                                                                           strict=True)):
            yield i, i + len(s.rest)


def tag(entries: Iterable[Entry], matcher: TopicMatcher) -> tuple[Entry, ...]:
    """The entries with `topics` set from their text."""
    return tuple(replace(e, topics=matcher.topics_for(e.text)) for e in entries)

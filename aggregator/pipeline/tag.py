"""The tag stage: which configured topics each entry is about. Pure: no I/O, no clock.

Matching rules (what an operator writing `topics:` can rely on; tests/test_tag.py shows each):

* Text and terms are compared word by word in their word view (aggregator.text.word_view):
  NFKC, no invisible characters, no diacritics or tatweel, أ إ آ ٱ → ا, ة → ه, ى ی → ي,
  ک → ك, Western digits, case-folded; punctuation and symbols only separate words, so French
  elisions split off by themselves: l'Iran, d’Ukraine, qu'Israël (a letter-like ʼ is allowed
  too). A phrase matches the same words in a row whatever punctuation stands between them.
* Whole words only: "Iran" does not match "Iranian" (list it if wanted), ترامب does not match
  ترامبولين. Each language gets only the endings below.
* Before an Arabic term's first word the text may carry the proclitics (و|ف)?(ب|ك|ل)?(ال)? or
  (و|ف)?لل: أوكرانيا matches وأوكرانيا, بأوكرانيا, لأوكرانيا, فبأوكرانيا. A term written with
  the article needs it in the text, whole or fused into لل: الكرملين matches والكرملين,
  بالكرملين, للكرملين but not كرملين. Nothing else is stripped: بوروسيا (Borussia) is not
  ب+و+روسيا (و/ف come first).
* A bare alef (no hamza) after a proclitic reads as part of the word when the rest is shorter
  than 5 letters: فانس is Vance, not ف+انس; but فأنس is ف+أنس, and واوكرانيا still splits.
* Spellings of names: an Arabic word of 5+ letters (article aside) also matches with ONE long
  vowel (ا و ي) inserted or deleted inside it, never doubling a letter: ترامب ~ ترمب,
  بوتين ~ بوتن, زيلينسكي ~ زيلنسكي, الكرملين ~ الكرملن; كيف (3 letters) never matches كييف.
* An Arabic term whose last word ends in ي (a nisba) also matches that word + ين ون ان ات تين
  تان ة: إسرائيلي matches الإسرائيليين, الإسرائيلية.
* A Russian word takes its noun or adjective case endings, chosen by how the term ends (a hand
  suffix table, not a stemmer run on the text): Украина → Украины, Кремль → Кремля,
  Москва → Москву, Путин → Путиным, Зеленский → Зеленского. A word in capitals (США, НАТО)
  takes none. A Cyrillic word written with a capital needs a capital in the text: Газа (Gaza)
  does not match газа ("of gas"); all-caps text counts as capitalized.
* `case_sensitive` terms match only with exactly the case written (AI, not "Ai Weiwei"; Trump,
  not "trump card"; Poutine, not "la poutine"), with no Russian endings.
* `exclude`, `with` and `case_sensitive` terms follow the same rules. The topic applies when a
  term (`terms`, `case_sensitive` or `regex`) matches, no `exclude` term does, and, if it has
  `with` terms, one of those does too (Iran *with* nuclear).
* `regex` terms are Python regexes searched, case-insensitively, in matching_view(text).
* Every term applies to text in any language: a `terms:` mapping by language only documents.
  Measured on tests/data/topics_eval.jsonl, restricting a group to items of its language cut
  recall from 0.96 to 0.93 and gained no precision: a name spelt alike in English and French
  is listed once, feeds mislabel languages, and scripts already keep Arabic and Russian apart.
* Spelling variants suit names; a common word can meet another one (المحكمة ~ المحاكمة):
  put such a word in a phrase, or veto the other with `exclude`.

How it stays fast, whatever the number of terms: every spelling a term's first word can take
(proclitics × vowel variants × endings) is generated once, when the matcher is built, into one
dict from that word to what it decides. A text is folded once into its words, and one set
intersection done in C finds every candidate; only phrases, short bare-alef stems (the hamza)
and terms with a case rule are then verified in Python, and only when their first word occurs.
bench/tag_throughput.py: ~65,000 items/s on one core with 50 topics × 20 terms (460,000 first
words, built in ~1 s), the same with 5 or 100 topics. Regexes are the exception: the matching
view and one combined search cost every text about as much again, whatever their number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from aggregator.config import TopicConfig
from aggregator.models import Entry
from aggregator.text.arabic import HAMZA_ALEF, display_view, matching_view, word_view

Rule = Literal["terms", "exclude", "with", "case_sensitive", "regex"]  # the key under the topic
_KIND: dict[Rule, int] = {"terms": 0, "case_sensitive": 0, "regex": 0, "exclude": 1, "with": 2}

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
VARIANT_STEM = 5  # an Arabic stem this long or longer gets its long-vowel spelling variants
_LONG_VOWELS = "\u0627\u0648\u064a"  # ا و ي

# Russian endings by how the term's word ends; tried longest first. Generous on purpose (a
# form that is not Russian costs one unused dict key), with no ending that makes another word.
_ADJECTIVE = ("ый", "ий", "ой", "ого", "его", "ому", "ему", "ым", "им", "ом", "ем", "ая", "яя",
              "ей", "ую", "юю", "ое", "ее", "ые", "ие", "ых", "их", "ыми", "ими")
_RUSSIAN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ий", _ADJECTIVE + ("ия", "ию", "ием", "ии")),  # Зеленский, and nouns: Дмитрий
    ("ый", _ADJECTIVE), ("ой", _ADJECTIVE), ("ая", _ADJECTIVE), ("ое", _ADJECTIVE),
    ("ие", ("ие", "ия", "ию", "ием", "ии", "ий", "иям", "иями", "иях")),  # обогащение
    ("о", ("о", "а", "у", "ом", "е", "ам", "ами", "ах")),  # правительство
    ("а", ("а", "ы", "и", "е", "у", "ой", "ою", "ам", "ами", "ах")),  # Украина, Газа
    ("я", ("я", "и", "е", "ю", "ей", "ею", "ям", "ями", "ях")),  # Россия, Сирия
    ("ь", ("ь", "я", "ю", "ем", "ём", "е", "и", "ью", "ей", "ям", "ями", "ях")),  # Кремль
    ("й", ("й", "я", "ю", "ем", "е", "и", "ев", "ям", "ями", "ях")),  # Китай
    ("ы", ("ы", "", "и", "ов", "ев", "ей", "ам", "ами", "ах")),  # plurals: выборы, пошлины
    ("и", ("и", "й", "ей", "ам", "ям", "ами", "ями", "ах", "ях")),  # санкции
)
_CONSONANT = ("", "а", "у", "ом", "ым", "ем", "е", "ы", "и", "ов", "ам", "ами", "ах", "ей")
_INDECLINABLE = frozenset("еёуюэ")  # Нетаньяху, Кот-д'Ивуаре
_ELISIONS = ("l", "d", "qu", "j", "n", "s", "c", "m", "t", "jusqu", "lorsqu", "puisqu")
_APOSTROPHE_LETTER = "\u02bc"  # ʼ is a letter (Lm): it does not split l'Iran on its own
_EDGE = r"(?:(?<=\u02bc)|(?<![^\W_]))"  # a case pattern's word start (\W or _ or ʼ before)
_END = r"(?![^\W_])"
_GAP = r"[\W_]+"


@dataclass(frozen=True, slots=True)
class Match:
    """One occurrence of a configured term in a text (what `aggregator explain` shows)."""

    topic: str  # topic id
    term: str  # the term (or regex) as written in the configuration
    rule: Rule  # the key it is listed under: terms, exclude, with, case_sensitive or regex
    start: int  # offset of the first matched character in word_view(display_view(text)),
    end: int  # and just past the last; these offsets are the same in matching_view(text)
    found: str  # the text as matched, in that view


@dataclass(frozen=True, slots=True)
class _Term:
    topic: int  # index of the topic in configuration order
    text: str  # the term as written in the configuration
    rule: Rule
    mark: int  # 3 × topic + 0 (a term), 1 (an exclude term) or 2 (a `with` term)
    case: re.Pattern[str] | None  # when set, it must also be found in display_view(text)


@dataclass(frozen=True, slots=True, eq=False)  # identity: one object per term and hamza_at
class _Spelling:
    """One way a term can start in the text: its first word, and what else must hold."""

    term: _Term
    hamza_at: int  # -1, or where the first word must have أ (short bare-alef stem)
    rest: tuple[frozenset[str], ...]  # allowed forms of each following word of a phrase

    @property
    def checked(self) -> bool:
        """True when the first word alone does not decide it."""
        return self.hamza_at >= 0 or bool(self.rest) or self.term.case is not None


@dataclass(frozen=True, slots=True, eq=False)
class _Group:
    """Every spelling that starts with one word; words whose spellings are alike share one."""

    marks: frozenset[int]  # what the word decides alone (the marks of unchecked spellings)
    checks: tuple[_Spelling, ...]  # the spellings to verify in the text, word by word
    spellings: tuple[_Spelling, ...]  # all of them, for matches()


def _is_arabic(word: str) -> bool:
    return "\u0620" <= word[0] <= "\u06ff"


def _is_cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def vowel_variants(stem: str) -> set[str]:
    """The stem with one internal long vowel inserted or deleted, never doubling a letter.

    A final ة (folded to ه) and the letter before it stay: ية is an ending, not a spelling,
    and الدولية without its ي would be الدولة.
    """
    if len(stem) < VARIANT_STEM:
        return set()
    end = len(stem) - 2 if stem.endswith("\u0647") else len(stem) - 1  # ه
    out = {stem[:i] + stem[i + 1:] for i in range(1, end)
           if stem[i] in _LONG_VOWELS and stem[i - 1] != stem[i] != stem[i + 1]}
    out.update(stem[:i] + v + stem[i:] for i in range(1, end + 1) for v in _LONG_VOWELS
               if stem[i - 1] != v != stem[i])
    return out


def russian_forms(word: str) -> set[str]:
    """A case-folded Russian noun or adjective with its case endings (see _RUSSIAN)."""
    if len(word) < 3 or word[-1] in _INDECLINABLE and not word.endswith(("ие", "ое")):
        return {word}
    ending, endings = next(((e, es) for e, es in _RUSSIAN if word.endswith(e)), ("", _CONSONANT))
    stem = word[:len(word) - len(ending)]
    forms = {word} | {stem + e for e in endings} if len(stem) >= 2 else {word}
    return forms | {f.replace("ё", "е") for f in forms}


def _arabic_forms(word: str, last: bool) -> set[str]:
    article = _ARTICLE if word.startswith(_ARTICLE) and len(word) >= 4 else ""
    stem = word[len(article):]
    stems = {stem} | vowel_variants(stem)
    endings = NISBA_ENDINGS if last and stem.endswith("\u064a") else ("",)
    return {article + s + e for s in stems for e in endings}


def _cased_words(text: str) -> list[str]:
    """display_view(text) split where word_view splits it, the case kept (for short texts)."""
    shown = display_view(text)
    return "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in shown).split()


def _term_words(text: str, rule: Rule) -> tuple[list[set[str]], list[str] | None]:
    """Each word's allowed forms (case-folded), and the parts of a case pattern, if needed."""
    words = word_view(text).split()
    cased = _cased_words(text)
    if len(cased) != len(words):  # a word of nothing but marks: no case rule can hold
        cased = words
    forms: list[set[str]] = []
    parts: list[str] = []
    needs_case = False
    for i, (word, shown) in enumerate(zip(words, cased, strict=True)):
        if _is_arabic(word):  # no case; and the display text is not folded like the forms
            found, parts = _arabic_forms(word, last=i == len(words) - 1), []
        elif rule == "case_sensitive":
            found = {word}
            needs_case = needs_case or shown.lower() != shown.upper()
            parts.append(re.escape(shown))
        elif _is_cyrillic(word):
            found = {word} if len(shown) > 1 and shown.isupper() else russian_forms(word)
            alternatives = "|".join(re.escape(f[1:]) for f in sorted(found, key=len, reverse=True))
            if shown[0].isupper() and all(f[0] == word[0] for f in found):
                needs_case = True
                parts.append(f"{re.escape(shown[0])}(?i:{alternatives})")
            else:
                parts.append(f"(?i:{re.escape(word[0])}(?:{alternatives}))")
        else:
            found = {word}
            parts.append(f"(?i:{re.escape(word)})")
        if i == 0 and not _is_arabic(word) and word[0] in "aeiouyhàâæéèêëîïôœûüÿ":
            found |= {e + _APOSTROPHE_LETTER + f for e in _ELISIONS for f in found}
        forms.append(found)
    return forms, parts if needs_case and len(parts) == len(words) else None


def _spellings(forms: list[set[str]]) -> Iterator[tuple[str, int, tuple[frozenset[str], ...]]]:
    """(first word as it may appear, hamza_at, rest) for a term's words' forms."""
    rest = tuple(frozenset(f) for f in forms[1:])
    for first in sorted(forms[0]):
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


def _group(spellings: tuple[_Spelling, ...]) -> _Group:
    return _Group(frozenset(s.term.mark for s in spellings if not s.checked),
                  tuple(s for s in spellings if s.checked), spellings)


def _any_of(patterns: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One regex finding a match wherever one of the patterns without groups would.

    Patterns with groups stay out: a backreference would count the groups of the others.
    """
    plain = [p.pattern for p in patterns if not p.groups]
    try:
        return re.compile("|".join(f"(?:{p})" for p in plain), re.IGNORECASE) if plain else None
    except re.error:  # e.g. a global flag such as (?s) not at the start of the whole
        return None


def _words(text: str) -> tuple[str, list[str]]:
    """(word view keeping أ, its words with أ folded to ا)."""
    hamza_view = word_view(text, keep_hamza=True)
    return hamza_view, hamza_view.replace(HAMZA_ALEF, _ALEF).split()


class TopicMatcher:
    """All topics' terms compiled once; answers which topics a text is about."""

    def __init__(self, topics: Sequence[TopicConfig]) -> None:
        self.topics = tuple(topics)  # as configured, for explaining
        self._ids = tuple(t.id for t in topics)
        self._needs_with = tuple(bool(t.with_terms) for t in topics)
        starts: dict[str, tuple[_Spelling, ...]] = {}  # first word -> its spellings
        self._regexes: list[tuple[_Term, re.Pattern[str]]] = []
        for number, topic in enumerate(topics):
            lists: tuple[tuple[Rule, tuple[str, ...]], ...] = (
                ("terms", topic.terms), ("case_sensitive", topic.case_sensitive),
                ("exclude", topic.exclude), ("with", topic.with_terms))
            for rule, terms in lists:
                for text in terms:
                    self._add(number, topic.id, text, rule, starts)
            self._regexes.extend((_Term(number, p, "regex", 3 * number, None),
                                  re.compile(p, re.IGNORECASE)) for p in topic.regex)
        groups: dict[tuple[_Spelling, ...], _Group] = {}
        self._groups = {key: groups.get(group) or groups.setdefault(group, _group(group))
                        for key, group in starts.items()}
        self._regex_filter = _any_of([pattern for _, pattern in self._regexes])

    @property
    def spelling_count(self) -> int:
        """How many first words the terms can start with: memory grows with it, time not."""
        return len(self._groups)

    def _add(self, number: int, topic: str, text: str, rule: Rule,
             starts: dict[str, tuple[_Spelling, ...]]) -> None:
        """Add every spelling of one term to starts (key: the first word as it may appear)."""
        if not word_view(text).split():
            raise ValueError(f"topic {topic!r}: term {text!r} has no letters or digits")
        forms, parts = _term_words(text, rule)
        case = re.compile(_EDGE + _GAP.join(parts) + _END) if parts else None
        term = _Term(number, text, rule, 3 * number + _KIND[rule], case)
        # Most spellings of a term differ only in their first word: they share one object
        # and one 1-tuple, so a large configuration costs little more than its keys.
        alone: dict[int, tuple[_Spelling]] = {}
        seen: set[tuple[str, int]] = set()
        for key, hamza_at, rest in _spellings(forms):
            if (key, hamza_at) in seen:
                continue
            seen.add((key, hamza_at))
            one = alone.get(hamza_at) or alone.setdefault(
                hamza_at, (_Spelling(term, hamza_at, rest),))
            starts[key] = starts[key] + one if key in starts else one

    def topics_for(self, text: str) -> tuple[str, ...]:
        """Ids of the topics the text is about, in configuration order."""
        hamza_view, words = _words(text)
        hits = self._groups.keys() & words
        if not hits and not self._regexes:
            return ()
        marks: set[int] = set()
        to_check = []
        for key in hits:
            group = self._groups[key]
            marks |= group.marks
            if group.checks:
                to_check.append((key, group.checks))
        if to_check:
            self._check(text, hamza_view, words, to_check, marks)
        if self._regexes:
            view = matching_view(text)
            # One search for all the plain regexes; each one searches only if it found some.
            found = self._regex_filter is None or self._regex_filter.search(view) is not None
            marks.update(term.mark for term, pattern in self._regexes
                         if term.mark not in marks and (found or pattern.groups)
                         and pattern.search(view))
        return self._decide(marks)

    def _check(self, text: str, hamza_view: str, words: list[str],
               to_check: list[tuple[str, tuple[_Spelling, ...]]], marks: set[int]) -> None:
        """Add the marks of the checked spellings that hold (first word: the key)."""
        hamza_words = hamza_view.split()
        shown: str | None = None
        failed: set[_Term] = set()  # terms whose case pattern is not in the text
        for key, checks in to_check:
            for s in checks:
                if s.term.mark in marks or s.term in failed or next(
                        _occurrences(s, key, words, hamza_words), None) is None:
                    continue
                if s.term.case is not None:
                    shown = display_view(text) if shown is None else shown
                    if s.term.case.search(shown) is None:
                        failed.add(s.term)
                        continue
                marks.add(s.term.mark)

    def _decide(self, marks: set[int]) -> tuple[str, ...]:
        return tuple(self._ids[t] for t in sorted({m // 3 for m in marks if m % 3 == 0})
                     if 3 * t + 1 not in marks and (not self._needs_with[t] or 3 * t + 2 in marks))

    def matches(self, text: str) -> dict[str, list[Match]]:
        """Every term occurrence per topic id (topics in configuration order), for explaining.

        A topic applies (is in topics_for) when it has a match of rule terms, case_sensitive
        or regex, none of rule exclude, and one of rule with if the topic has `with` terms.
        """
        shown = display_view(text)
        hamza_view, words = _words(shown)
        view = hamza_view.replace(HAMZA_ALEF, _ALEF)
        spans, at = [], 0
        for word in words:
            at = view.index(word, at)
            spans.append((at, at + len(word)))
            at += len(word)
        hamza_words = hamza_view.split()
        cased = _cased_words(shown)
        found: dict[int, dict[Match, None]] = {}
        for key in self._groups.keys() & words:
            for s in self._groups[key].spellings:
                for first, last in _occurrences(s, key, words, hamza_words):
                    if s.term.case is not None and s.term.case.search(
                            " ".join(cased[first:last + 1]) if len(cased) == len(words)
                            else shown) is None:
                        continue
                    start, end = spans[first][0], spans[last][1]
                    match = Match(self._ids[s.term.topic], s.term.text, s.term.rule,
                                  start, end, view[start:end])
                    found.setdefault(s.term.topic, {})[match] = None
        if self._regexes:
            folded = matching_view(shown)
            for term, pattern in self._regexes:
                for m in pattern.finditer(folded):
                    match = Match(self._ids[term.topic], term.text, "regex", m.start(), m.end(),
                                  m.group())
                    found.setdefault(term.topic, {})[match] = None
        return {self._ids[t]: sorted(found[t], key=lambda m: (m.start, m.end, m.rule))
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
    """The entries with `topics` set from their text (an entry whose topics are already
    those is returned as it is: copying a frozen Entry costs more than tagging it)."""
    tagged = []
    for entry in entries:
        topics = matcher.topics_for(entry.text)
        tagged.append(entry if entry.topics == topics else replace(entry, topics=topics))
    return tuple(tagged)

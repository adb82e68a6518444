"""Language-aware text views for matching Arabic-first news: pure, standard library only.

    display_view   what a reader sees: NFKC, no invisible characters, single spaces
    matching_view  display view with Arabic spelling variation folded and case folded
    word_view      matching view with punctuation/symbols as spaces: str.split() gives its words
    title_key      a title's words in the matching view, joined by single spaces
    clean_noise    scraped noise (a stray close-button glyph, whitespace runs) removed

Only spelling variation that never changes the word is folded. Not folded on purpose: ؤ and ئ
(pyarabic's ؤ/ئ → ء merges different words), and no stemming (light stemmers mangle names:
كييف → ييف, بوتين → وت; see DESIGN.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

__all__ = ["HAMZA_ALEF", "clean_noise", "display_view", "matching_view", "title_key",
           "word_view"]

HAMZA_ALEF = "\u0623"  # أ: the one hamza-alef that word_view(keep_hamza=True) keeps

# Zero-width characters, LRM/RLM, ALM, bidi embeddings/overrides/isolates, BOM, soft hyphen,
# plus the other invisible format characters of the same blocks (invisible operators
# U+2061–2064, Mongolian vowel separator, the deprecated Arabic form-shaping controls U+206A–206F).
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")

# Removed from the matching view: tashkeel (U+064B–065F), superscript alef (U+0670), Quranic
# annotation marks (U+06D6–06ED, and the Arabic honorific/Extended-A marks U+0610–061A,
# U+08D3–08FF, which would otherwise split words), tatweel (U+0640).
_DROP = frozenset(chr(c) for r in ((0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670),
                                   (0x06D6, 0x06ED), (0x08D3, 0x08FF), (0x0640, 0x0640))
                  for c in range(r[0], r[1] + 1))
_LETTERS = {
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # أ إ آ ٱ → ا
    "\u0629": "\u0647",  # ة → ه
    "\u0649": "\u064a", "\u06cc": "\u064a",  # ى, Persian ی → ي
    "\u06a9": "\u0643",  # Persian ک → ك
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
}

# Arabic-Indic and Persian digits, and the Arabic decimal and thousands separators, as ASCII
_WESTERN = str.maketrans({**{chr(0x0660 + d): str(d) for d in range(10)},
                          **{chr(0x06F0 + d): str(d) for d in range(10)},
                          "\u066b": ".", "\u066c": ","})
_EASTERN_DIGIT = re.compile("[\u0660-\u066c\u06f0-\u06f9]")  # translate() is slow: only then

# Folding finds the few distinct characters of a text that are neither plain (space, lower-case
# ASCII letters and digits, the Arabic letters no view changes, lower-case Russian) nor
# frequent, and str.replace()s each of them; the frequent ones are replaced unconditionally
# (replacing an absent character is a fast scan). Same result as str.translate, which costs
# ~130 ns for every character of non-ASCII text (56 µs for 426 Arabic characters, measured).
_FREQUENT = "\u0623\u0625\u0622\u0629\u0649\u060c\u061b\u061f\u00ab\u00bb.,:;!?\"'()-/"
_ODD = re.compile("[^ 0-9a-z\u0621\u0624\u0626-\u0628\u062a-\u063a\u0641-\u0648\u064a"
                  "\u0430-\u044f" + re.escape(_FREQUENT) + "]")
_CLOSE_GLYPHS = frozenset("×✕✖✗✘⨯x")  # close-button glyphs scraped into titles
_HANGUL_JAMO = range(0x1100, 0x1200)  # compose under NFKC without being combining marks
_V = TypeVar("_V")


class _CharTable(dict[str, _V]):
    """char → value, each distinct character computed once, on first sight."""

    def __init__(self, rule: Callable[[str], _V]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, char: str) -> _V:
        out = self[char] = self._rule(char)
        return out


def _match_char(char: str) -> str:
    if char in _DROP:
        return ""
    return _LETTERS.get(char) or char.casefold()


def _word_char(char: str, keep_hamza: bool = False) -> str:
    if keep_hamza and char in "\u0623\u0625\u0622":
        return HAMZA_ALEF
    # Punctuation (P*), symbols (S*), separators (Z*) and controls (C*) separate words.
    return "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in _match_char(char))


def _needs_display(char: str) -> bool:
    """True when the fast path cannot skip display_view for a text holding this character."""
    if char.isspace():  # any whitespace becomes one word break anyway
        return False
    return (_INVISIBLE.match(char) is not None or unicodedata.category(char)[0] == "M"
            or ord(char) in _HANGUL_JAMO or unicodedata.normalize("NFKC", char) != char)


class _Fold:
    """One view's character rule, applied to whole texts (see _FREQUENT and _ODD)."""

    def __init__(self, rule: Callable[[str], str]) -> None:
        self._table = _CharTable(rule)
        self._frequent = tuple((c, out) for c in _FREQUENT if (out := rule(c)) != c)

    def __call__(self, text: str, odd: set[str]) -> str:
        for char, out in self._frequent:
            text = text.replace(char, out)
        for char in odd:
            out = self._table[char]
            if out != char:
                text = text.replace(char, out)
        return text


_MATCH = _Fold(_match_char)
_WORD = _Fold(_word_char)
_WORD_HAMZA = _Fold(lambda c: _word_char(c, keep_hamza=True))
_NEEDS_DISPLAY = _CharTable(_needs_display)


def display_view(text: str) -> str:
    """NFKC (presentation forms, NBSP, ligatures), invisible characters removed, single spaces."""
    if _INVISIBLE.search(text) is not None:  # before NFKC, so a ZWJ cannot block composition
        text = _INVISIBLE.sub("", text)
    return " ".join(unicodedata.normalize("NFKC", text).split())


def matching_view(text: str) -> str:
    """display_view without diacritics/tatweel, alef/ta/yeh/kaf and digits folded, casefolded."""
    text = display_view(text)
    text = _MATCH(text, set(_ODD.findall(text)))
    if "  " in text or text[:1] == " " or text[-1:] == " ":  # a word that was only marks
        text = " ".join(text.split())
    return text


def word_view(text: str, *, keep_hamza: bool = False) -> str:
    """The matching view with punctuation, symbols and controls turned into spaces.

    Spaces are not collapsed: callers split() it. With keep_hamza, أ إ آ become أ instead of ا
    (a caller can then tell a hamza-alef from a bare alef); replacing أ by ا gives the plain
    word view, with the same word boundaries.
    """
    odd = set(_ODD.findall(text))
    if any(_NEEDS_DISPLAY[char] for char in odd):
        text = display_view(text)
        odd = set(_ODD.findall(text))
    return (_WORD_HAMZA if keep_hamza else _WORD)(text, odd)


def western_digits(text: str) -> str:
    """`text` with Arabic-Indic and Persian digits (and Arabic decimal and thousands signs)
    written in ASCII: ١٢٫٥ is 12.5, whichever way an outlet writes it."""
    return text.translate(_WESTERN) if _EASTERN_DIGIT.search(text) is not None else text


def title_key(title: str) -> str:
    """The key identical headlines of two outlets share despite punctuation/diacritics/hamza."""
    return " ".join(word_view(title).split())


def clean_noise(text: str) -> str:
    """Plain text without a lone close glyph (× ✕ ✖ ✗ ✘ ⨯ x) at either end, single-spaced.

    Only a lower-case x counts: a lone "X" opening a headline is the social network.
    """
    words = text.split()
    start, end = 0, len(words)
    while start < end and words[start] in _CLOSE_GLYPHS:
        start += 1
    while end > start and words[end - 1] in _CLOSE_GLYPHS:
        end -= 1
    return " ".join(words[start:end])

"""Offline language detection for items that declare no language; py3langid is used only here.

    detect(text, candidates)  the item's ISO 639-1 code ("ar", "en", "fr", "ru", "fa", ...) or None
    primary_code(code)        a declared code's primary language: "ar-EG", "arz", "ara" -> "ar"

Script first, because it is fast and exact for our languages: Arabic script is Arabic unless
Persian or Urdu could be meant (then, and for Latin and other scripts, py3langid decides among
the candidates that script can write); Cyrillic is Russian when that is the only Cyrillic
candidate. py3langid ships its 4.5 MB model and needs only numpy: nothing is downloaded.
Run on the display view (NFKC), never on the matching view: accuracy drops there (DESIGN.md).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from aggregator.text.arabic import display_view

__all__ = ["detect", "primary_code"]

# ISO 639-3 members of the Arabic macrolanguage (py3langid answers ary/arz), and the 639-2/3
# and legacy codes of the languages feeds declare, mapped to ISO 639-1.
_ARABIC_VARIETIES = ("aao abh abv acm acq acw acx acy adf aeb aec afb ajp apc apd arb arq ars "
                     "ary arz auz avl ayh ayl ayn ayp bbz pga shu ssh ara")
_ALIASES = {**dict.fromkeys(_ARABIC_VARIETIES.split(), "ar"),
            "pes": "fa", "prs": "fa", "fas": "fa", "per": "fa", "urd": "ur", "eng": "en",
            "fra": "fr", "fre": "fr", "rus": "ru", "ukr": "uk", "heb": "he", "iw": "he",
            "tur": "tr", "deu": "de", "ger": "de", "spa": "es", "ita": "it", "zho": "zh",
            "chi": "zh", "cmn": "zh", "in": "id", "ji": "yi"}

# py3langid labels by script. Arabic script: letters Persian/Urdu write and Arabic does not
# (پ چ ژ گ ک ی ۀ ٹ ڈ ڑ ں ے ھ); without them an Arabic-script text is read as Arabic.
_ARABIC_SCRIPT = frozenset({"ar", "ary", "arz", "fa", "ur", "ps", "ug", "sdh"})
_NOT_ARABIC = re.compile("[\u067e\u0686\u0698\u06af\u06a9\u06cc\u06c0\u0679\u0688\u0691"
                         "\u06ba\u06d2\u06be]")
_CYRILLIC_SCRIPT = frozenset({"ru", "uk", "bg", "be", "mk", "sr", "kk", "ky", "mn", "tg",
                              "tt", "ba"})
_OTHER_SCRIPTS = frozenset({"am", "as", "bn", "dz", "el", "grc", "gu", "hbo", "he", "hi",
                            "hy", "ja", "ka", "km", "kn", "ko", "lo", "ml", "mr", "my", "ne",
                            "or", "pa", "sa", "si", "ta", "te", "th", "wuu", "yue", "zh"})
_NON_LATIN = _ARABIC_SCRIPT | _CYRILLIC_SCRIPT | _OTHER_SCRIPTS
_MAX_CHARS = 400  # enough to decide; py3langid walks the UTF-8 bytes in Python, ~1 µs a byte


def _byte_classes() -> bytes:
    """UTF-8 byte -> script class: counting lead bytes is ~20x faster than a regex over
    Arabic letters (findall costs ~200 ns a match). a: Arabic (U+0600-06FF, 0740-077F),
    c: Cyrillic (U+0400-04FF), l: Latin (ASCII letters, U+00C0-024F), o: other scripts'
    letters (Greek, Armenian, Hebrew, Indic, CJK, ...), '.': the rest (digits, punctuation,
    spaces, continuation bytes, U+2000-2FFF symbols)."""
    table = bytearray(b"." * 256)
    for lead in (*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1),
                 *range(0xC3, 0xCA)):
        table[lead] = ord("l")
    for lead in range(0xD0, 0xD4):
        table[lead] = ord("c")
    for lead in (0xD8, 0xD9, 0xDA, 0xDB, 0xDD):
        table[lead] = ord("a")
    for lead in (0xCD, 0xCE, 0xCF, 0xD4, 0xD5, 0xD6, 0xD7, 0xDC, 0xDE, 0xDF, 0xE0, 0xE1,
                 *range(0xE3, 0xEE)):
        table[lead] = ord("o")
    return bytes(table)


_CLASSES = _byte_classes()
_SCRIPTS = {"arabic": b"a", "cyrillic": b"c", "latin": b"l", "other": b"o"}


def primary_code(code: str | None) -> str | None:
    """'ar-EG' -> 'ar', 'arz' -> 'ar', 'FRA' -> 'fr'; None when it is not a language code."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    if not (primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3):
        return None
    return _ALIASES.get(primary, primary)


def detect(text: str, candidates: Collection[str] = ()) -> str | None:
    """The language of text, one of candidates when some are given; None when text has no
    letters, or its script fits none of the candidates."""
    text = display_view(text[:_MAX_CHARS])
    wanted = frozenset(c for c in map(primary_code, candidates) if c)
    script = _script(text)
    if script is None:
        return None
    if script == "arabic":
        pool = wanted & _ARABIC_SCRIPT if wanted else _ARABIC_SCRIPT
        if pool - {"ar"} and _NOT_ARABIC.search(text) is not None:
            return _classify(text, pool | ({"ary", "arz"} if "ar" in pool else set()))
        return "ar" if "ar" in pool else None
    if script == "cyrillic":
        pool = wanted & _CYRILLIC_SCRIPT if wanted else _CYRILLIC_SCRIPT
    elif script == "latin":
        pool = wanted - _NON_LATIN if wanted else _labels() - _NON_LATIN
    else:
        pool = wanted & _OTHER_SCRIPTS if wanted else _OTHER_SCRIPTS
    if len(pool) <= 1:
        return next(iter(pool), None)
    return _classify(text, pool)


def _script(text: str) -> str | None:
    """The script most of the letters are written in, or None when there are no letters."""
    classes = text.encode("utf-8", "replace").translate(_CLASSES)
    count, script = max((classes.count(c), name) for name, c in _SCRIPTS.items())
    return script if count else None


def _classify(text: str, pool: frozenset[str] | set[str]) -> str | None:
    labels = frozenset(pool) & _labels()
    if not labels:
        return None
    language, _score = _identifier(labels).classify(text)
    return primary_code(language)


_LOCK = threading.Lock()
_MODEL: list[Any] = []  # the full py3langid identifier, loaded on first use (~1 s)


def _full_model() -> Any:
    with _LOCK:
        if not _MODEL:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _MODEL.append(LanguageIdentifier.from_model_file(MODEL_FILE))
        return _MODEL[0]


@lru_cache(maxsize=1)
def _labels() -> frozenset[str]:
    return frozenset(_full_model().labels) - {"zxx"}  # zxx: "no linguistic content"


@lru_cache(maxsize=64)
def _identifier(labels: frozenset[str]) -> Any:
    """An identifier restricted to labels; set_languages replaces (never mutates) the model's
    arrays, so a shallow copy shares the full model's memory and leaves it intact."""
    restricted = copy.copy(_full_model())
    restricted.set_languages(sorted(labels))
    return restricted

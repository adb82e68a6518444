"""Dates that feedparser cannot read, or reads wrong: pure, standard library only.

    parse_date          a news-site date string -> aware UTC datetime, or None
    feedparser_handler  the same for feedparser.registerDateHandler, as a UTC struct_time; it
                        returns None at once for the RFC 822 / ISO 8601 strings feedparser reads

Read: day-month-year with Arabic (Egyptian/Gulf, Levantine, Maghrebi, Moroccan; combined forms
such as شباط/فبراير), French, Russian or English month names; dd/mm/yyyy (also - and .) and
yyyy/mm/dd; weekdays anywhere (ignored); HH:MM[:SS] or 14h30 with ص/م or AM/PM; zones as
numeric offsets, GMT+3, توقيت غرينتش, بتوقيت مكة, МСК, IANA names or a name of ZONES.
Never guessed: a named zone not known here makes the date unreadable (None), not UTC; a date
without a year; Hijri dates (1446/08/14 is refused by the year range, not converted).
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

__all__ = ["ZONES", "feedparser_handler", "parse_date"]

# Minutes east of UTC. Ambiguous names are left out on purpose, so they make a date unreadable
# instead of wrong: IST (India +5:30, Israel +2, Ireland +1), ADT, CST's China/Cuba readings.
# Choices for this Arabic-first aggregator: AST is Arabia Standard Time (+3, Gulf outlets),
# not Atlantic (-4, feedparser's reading); BST is British Summer Time, not Bangladesh; GST is
# Gulf Standard Time (UAE, Oman), not South Georgia.
ZONES: dict[str, int] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180, "TRT": 180, "AST": 180, "GST": 240, "IRST": 210,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
}
# feedparser 6.0's RFC 822 zone names (feedparser/datetimes/rfc822.py); any other name it
# reads as UTC. The handler takes over the RFC 822 dates whose zone it would read differently.
_FEEDPARSER_ZONES = {"UT": 0, "GMT": 0, "Z": 0, "ADT": -180, "AST": -240, "AT": -240,
                     "EDT": -240, "EST": -300, "ET": -300, "CDT": -300, "CST": -360,
                     "CT": -360, "MDT": -360, "MST": -420, "MT": -420, "PDT": -420,
                     "PST": -480, "PT": -480, "MET": 60, "MEST": 120}
_TAKE_OVER = frozenset(name for name, minutes in ZONES.items()
                       if _FEEDPARSER_ZONES.get(name, 0) != minutes)

_MONTH_NAMES = {
    1: "يناير جانفي janvier janv january jan января январь янв",
    2: "فبراير شباط فيفري février févr february feb февраля февраль фев",
    3: "مارس آذار mars march mar марта март мар",
    4: "أبريل ابريل إبريل نيسان أفريل avril avr april apr апреля апрель апр",
    5: "مايو أيار ماي mai may мая май",
    6: "يونيو يونيه حزيران جوان juin june jun июня июнь июн",
    7: "يوليو يوليه تموز جويلية يوليوز juillet juil july jul июля июль июл",
    8: "أغسطس آب أوت غشت août august aug августа август авг",
    9: "سبتمبر أيلول شتنبر septembre sept september sep сентября сентябрь сен сент",
    10: "أكتوبر octobre oct october октября октябрь окт",
    11: "نوفمبر نونبر novembre nov november ноября ноябрь ноя нояб",
    12: "ديسمبر دجنبر décembre déc december dec декабря декабрь дек",
}
# Levantine names of two words (_NAME below matches one or two words).
_TWO_WORDS = {"كانون الثاني": 1, "تشرين الأول": 10, "تشرين الثاني": 11, "كانون الأول": 12}

# Arabic-Indic and Persian digits, the Arabic comma, dashes; tatweel removed.
_TRANSLATE = {**{0x0660 + d: str(d) for d in range(10)}, **{0x06F0 + d: str(d) for d in range(10)},
              0x060C: ",", 0x061B: ";", 0x2212: "-", 0x2013: "-", 0x2014: "-", 0x0640: None}
# After NFKD: Latin/Cyrillic accents, hamza/madda on alef, Arabic diacritics (all combining).
_MARKS = re.compile("[\u0300-\u036f\u064b-\u065f\u0670]")


def _fold(text: str) -> str:
    """Digits to ASCII; no accents, hamza-on-alef, diacritics or tatweel: 'févr' -> 'fevr'."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.translate(_TRANSLATE)))


def _month_table() -> dict[str, int]:
    table = {_fold(name).lower(): month for name, month in _TWO_WORDS.items()}
    for month, names in _MONTH_NAMES.items():
        table.update((_fold(name).lower(), month) for name in names.split())
    return table


_MONTHS = _month_table()
# Month names are matched as any word (or two: كانون الثاني) and looked up in _MONTHS: an
# alternation of the 115 names costs ~10 µs per string in `re`, a word pattern ~1 µs.
_WORD = r"[^\W\d_]+"
_NAME = rf"{_WORD}(?:\s+{_WORD})?"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(?P<d>\d{{1,2}})(?:er|e|-?го)?\s*[-.]?\s*(?:de\s+)?(?P<m>{_NAME})\.?"
    rf"(?:\s*[/(-]\s*(?P<m2>{_NAME})\.?\s*\)?)?\s*[,.-]?\s*(?P<y>\d{{4}})(?!\d)")
_MONTH_DAY_YEAR = re.compile(
    rf"(?<![^\W\d_])(?P<m>{_WORD})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
    r"(?P<y>\d{4})(?!\d)")
_NUMERIC = re.compile(r"(?<![\d/.-])(?:(?P<d>\d{1,2})(?P<s>[/.-])(?P<m>\d{1,2})(?P=s)"
                      r"(?P<y>\d{4}|\d{2})|(?P<y2>\d{4})(?P<s2>[/.-])(?P<m2>\d{1,2})(?P=s2)"
                      r"(?P<d2>\d{1,2}))(?![\d/]|\.\d)")
_TIME = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?"
    r"|\s?h\s?(?P<mi2>\d{2})?(?![^\W\d_]))(?!\d)"
    r"(?:\s*(?P<ap>صباحا|صباح|ص|مساءا|مساء|م|[ap]\.?\s?m\.?)(?![^\W\d_]))?", re.IGNORECASE)
_GREENWICH = "غرينتش|غرينيتش|جرينتش|جرينيتش|غرنتش"
_GREENWICH_NAMES = frozenset(_GREENWICH.split("|"))
_ZONE = re.compile(
    r"[\s,(\[]*(?:(?:بحسب\s+|حسب\s+)?(?:ب|بال|ال)?توقيت\s+(?P<city>[^\W\d_]+)"
    rf"|(?P<gmt>gmt|utc|ut|{_GREENWICH}|ت\s?\.?\s?غ)(?![^\W\d_])"
    r"|(?P<msk>мск|по\s+московскому(?:\s+времени)?)(?![^\W\d_])"
    r"|(?P<iana>[A-Za-z]+(?:/[A-Za-z_]+)+)"
    r"|(?P<name>[A-Za-z]{1,5})(?![^\W\d_]))?"
    r"\s*(?P<sign>[+-])?(?(sign)(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?(?!\d))", re.IGNORECASE)
# After "بتوقيت": IANA zones, so their summer time is right (zoneinfo, standard library).
_CITIES = {_fold(k): v for k, v in {
    "مكة": "Asia/Riyadh", "الرياض": "Asia/Riyadh", "السعودية": "Asia/Riyadh",
    "القاهرة": "Africa/Cairo", "مصر": "Africa/Cairo", "بيروت": "Asia/Beirut",
    "دمشق": "Asia/Damascus", "القدس": "Asia/Jerusalem", "بغداد": "Asia/Baghdad",
    "الدوحة": "Asia/Qatar", "الكويت": "Asia/Kuwait", "أبوظبي": "Asia/Dubai",
    "الإمارات": "Asia/Dubai", "دبي": "Asia/Dubai", "طهران": "Asia/Tehran",
    "أنقرة": "Europe/Istanbul", "إسطنبول": "Europe/Istanbul", "موسكو": "Europe/Moscow",
    "الجزائر": "Africa/Algiers", "تونس": "Africa/Tunis", "الرباط": "Africa/Casablanca",
    "المغرب": "Africa/Casablanca", "لندن": "Europe/London", "باريس": "Europe/Paris",
}.items()}
_AM_PM = {"ص": "am", "صباحا": "am", "صباح": "am", "م": "pm", "مساء": "pm", "مساءا": "pm"}

# ASCII strings feedparser reads right, left to it at once: ISO 8601 / W3C-DTF (checked with
# str methods, see feedparser_handler), and RFC 822 with a numeric zone or a zone name it
# agrees on. Case-sensitive, no backtracking to speak of: the common case costs one match.
_RFC822_READ_RIGHT = re.compile(
    r"(?:[A-Z][a-z][a-z], )?\d\d? [A-Z][a-z][a-z] \d{4} \d\d:\d\d(?::\d\d)? "
    r"(?:[+-]\d{4}|GMT|UTC?|Z|[ECMP][SD]T)")
# Other ASCII strings worth a full parse: dd/mm/yyyy, yyyy/mm/dd, French month names, English
# "February 13, 2025" (feedparser reads none of them, or reads them wrong).
_ASCII_CANDIDATE = re.compile(
    r"\s*(?:[a-z]+\.?,?\s+)?(?:le\s+)?(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?!\d)"
    r"|\d{4}[/.]\d{1,2}[/.]\d{1,2}"
    r"|\d{1,2}(?:er)?\s+(?:janv|fevr|mars|avr|mai|juin|juil|aout|septembre|octobre|novembre"
    r"|decembre)"
    r"|(?:january|february|march|april|june|july|august|september|october|november|december)"
    r"\s+\d)", re.IGNORECASE)
_GMT_SIGNED = frozenset({"GMT+", "GMT-", "UTC+", "UTC-"})


def parse_date(text: str) -> datetime | None:
    """A date as news sites write it, in UTC; None when it is unreadable or its zone unknown."""
    s = _fold(text)
    date = _date(s)
    if date is None:
        return None
    (year, month, day), (start, end) = date
    rest = s[:start] + " " * (end - start) + s[end:]  # the date masked, for the time search
    hour = minute = second = 0
    zone_at = end
    found = _TIME.search(rest)
    if found:
        hour, minute = int(found["h"]), int(found["mi"] or found["mi2"] or 0)
        second = int(found["s"] or 0)
        marker = found["ap"]
        if marker:
            half = _AM_PM.get(marker, marker[0].lower() + "m")
            if hour <= 12:  # 12 AM is midnight, 12 PM noon; 14:30 م stays 14:30
                hour = hour % 12 + (12 if half == "pm" else 0)
        zone_at = found.end()
    try:  # _UnknownZone is a ValueError: a named zone we do not know makes the date unreadable
        zone = _zone(rest, zone_at) or UTC
        return datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def feedparser_handler(text: str) -> time.struct_time | None:
    """parse_date for feedparser, as a UTC struct_time; None at once for the common strings.

    feedparser runs this before its own parsers for every date (registerDateHandler puts it
    first): ISO 8601 strings leave after two str tests, RFC 822 ones after one regex match,
    unless their zone is a name feedparser reads wrong (EET, MSK, AST: see _TAKE_OVER) or
    GMT+3 / UTC+03:00 (it reads the latter as UTC). Other ASCII strings pay a second regex.
    """
    if text.isascii():
        if (text[4:5] == "-" and text[:4].isdigit()) or _RFC822_READ_RIGHT.fullmatch(text):
            return None  # ISO 8601, or RFC 822 that feedparser reads right
        tail = text[text.rfind(" ") + 1:]  # zone names are upper case, as in parse_date
        if (tail not in _TAKE_OVER and tail[:4] not in _GMT_SIGNED
                and _ASCII_CANDIDATE.match(text) is None):
            return None
    parsed = parse_date(text)
    return parsed.utctimetuple() if parsed else None


def _date(s: str) -> tuple[tuple[int, int, int], tuple[int, int]] | None:
    """The first readable (year, month, day) and where it stands in the folded string."""
    for m in _DAY_MONTH_YEAR.finditer(s):
        month = _month(m["m"])
        if m["m2"] and _month(m["m2"]) != month:
            continue  # "13 شباط/مارس": two different months, read neither
        if month and _valid(date := (int(m["y"]), month, int(m["d"]))):
            return date, m.span()
    for m in _MONTH_DAY_YEAR.finditer(s):
        month = _month(m["m"])
        if month and _valid(date := (int(m["y"]), month, int(m["d"]))):
            return date, m.span()
    for m in _NUMERIC.finditer(s):
        if m["y2"]:
            date = (int(m["y2"]), int(m["m2"]), int(m["d2"]))
        else:
            year, month, day = int(m["y"]), int(m["m"]), int(m["d"])
            if len(m["y"]) == 2:
                year += 2000 if year < 70 else 1900
            if month > 12 >= day:  # 02/13/2025 can only be month-first
                month, day = day, month
            date = (year, month, day)
        if _valid(date):
            return date, m.span()
    return None


def _month(name: str) -> int:
    return _MONTHS.get(" ".join(name.lower().split()), 0)


def _valid(date: tuple[int, int, int]) -> bool:
    year, month, day = date
    # The year range also refuses Hijri years (1446), which this module does not convert.
    return 1900 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31


class _UnknownZone(ValueError):
    """A zone is written, and it is not one we know."""


def _zone(s: str, pos: int) -> tzinfo | None:
    """The zone written at pos, None when none is; raises _UnknownZone."""
    m = _ZONE.match(s, pos)
    if m is None:  # pragma: no cover - every part of the pattern is optional
        return None
    greenwich = bool(m["gmt"]) or m["city"] in _GREENWICH_NAMES
    offset = 0
    if m["oh"] is not None:
        hours, minutes = int(m["oh"]), int(m["om"] or 0)
        # a bare offset has two hour digits (+0300, +03:00); after GMT one is enough (GMT+3)
        if hours > 14 or minutes >= 60 or not (greenwich or len(m["oh"]) == 2):
            raise _UnknownZone(m[0])
        offset = (hours * 60 + minutes) * (-1 if m["sign"] == "-" else 1)
    if m["city"] and not greenwich:  # بتوقيت مكة; بالتوقيت المحلي names no zone we know
        if m["city"] not in _CITIES or m["oh"] is not None:
            raise _UnknownZone(m[0])
        return _zoneinfo(_CITIES[m["city"]])
    if m["msk"]:
        return timezone(timedelta(hours=3))
    if m["iana"]:
        return _zoneinfo(m["iana"])
    name = m["name"]
    # Zone names are upper case: a lower-case word after the time ("est", "cet" in French
    # prose, "par") names no zone. An unknown upper-case name ending in T ("HKT", "IST", "SGT")
    # is a zone we do not know; others ("AFP", "SPA") are agencies and bylines, not zones.
    if name and name.isupper():
        if name in ZONES and m["oh"] is None:
            return timezone(timedelta(minutes=ZONES[name]))
        if (name.endswith("T") and len(name) >= 2) or m["oh"] is not None:
            raise _UnknownZone(name)
    if greenwich or m["oh"] is not None:
        return timezone(timedelta(minutes=offset))
    return None


def _zoneinfo(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise _UnknownZone(name) from exc

"""Dates feedparser cannot read or reads wrong: Arabic, French and Russian month names,
dd/mm/yyyy, Arabic-Indic digits, named zones; and the handler that leaves the rest to it."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

import pytest

from aggregator.pipeline.parse import parse
from aggregator.text.dates import ZONES, feedparser_handler, parse_date


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    # Arabic: Levantine + Egyptian combined, weekday and Arabic comma, no zone -> UTC
    ("الخميس، 13 شباط/فبراير 2025 - 14:30", utc(2025, 2, 13, 14, 30)),
    ("13 شباط (فبراير) 2025", utc(2025, 2, 13)),
    ("13 كانون الثاني/يناير 2025", utc(2025, 1, 13)),
    ("الاثنين 6 تشرين الأول 2025 10:05", utc(2025, 10, 6, 10, 5)),
    ("1 كانون الأول 2025", utc(2025, 12, 1)),
    ("السبت 9 آب 2025", utc(2025, 8, 9)),
    ("2 آذار 2026", utc(2026, 3, 2)),
    ("الأحد 13 أبريل 2025", utc(2025, 4, 13)),
    ("13 ابريل 2025", utc(2025, 4, 13)),
    ("13 إبريل 2025", utc(2025, 4, 13)),
    ("20 يونيه 2025", utc(2025, 6, 20)),
    ("4 يوليه 2025", utc(2025, 7, 4)),
    ("31 أغسطس 2025", utc(2025, 8, 31)),
    ("8 أيار 2025", utc(2025, 5, 8)),
    ("27 أيلول 2025", utc(2025, 9, 27)),
    ("11 تشرين الثاني 2025", utc(2025, 11, 11)),
    ("الثلاثاء 24 نوفمبر 2026 م", utc(2026, 11, 24)),
    # Maghrebi and Moroccan
    ("5 جانفي 2026", utc(2026, 1, 5)),
    ("الجمعة 7 فيفري 2025", utc(2025, 2, 7)),
    ("15 أفريل 2025", utc(2025, 4, 15)),
    ("1 ماي 2025", utc(2025, 5, 1)),
    ("18 جوان 2025", utc(2025, 6, 18)),
    ("5 جويلية 2025", utc(2025, 7, 5)),
    ("20 أوت 2025", utc(2025, 8, 20)),
    ("14 يوليوز 2025", utc(2025, 7, 14)),
    ("13 غشت 2025", utc(2025, 8, 13)),
    ("3 شتنبر 2025", utc(2025, 9, 3)),
    ("30 نونبر 2025", utc(2025, 11, 30)),
    ("25 دجنبر 2025", utc(2025, 12, 25)),
    # Arabic-Indic and Persian digits, diacritics and tatweel
    ("١٣/٠٢/٢٠٢٥", utc(2025, 2, 13)),
    ("١٣ فبرايـــر ٢٠٢٥ - ١٤:٣٠", utc(2025, 2, 13, 14, 30)),
    ("۱۳/۰۲/۲۰۲۵ ۰۹:۰۵", utc(2025, 2, 13, 9, 5)),
    ("٢٠٢٥/٠٢/١٣", utc(2025, 2, 13)),
    # ص / م, and a Hijri date before the Gregorian one (the Hijri is not converted)
    ("13 فبراير 2025م - 02:30 م", utc(2025, 2, 13, 14, 30)),
    ("13 فبراير 2025 - 02:30 ص", utc(2025, 2, 13, 2, 30)),
    ("13 فبراير 2025 12:15 ص", utc(2025, 2, 13, 0, 15)),
    ("13 فبراير 2025 3:05 مساءً", utc(2025, 2, 13, 15, 5)),
    ("14 شعبان 1446هـ الموافق 13 فبراير 2025م", utc(2025, 2, 13)),
    # numeric, day first; time with and without seconds
    ("13/02/2025 14:30", utc(2025, 2, 13, 14, 30)),
    ("13-02-2025 09:05:07", utc(2025, 2, 13, 9, 5, 7)),
    ("13.02.2025", utc(2025, 2, 13)),
    ("13/02/25", utc(2025, 2, 13)),
    ("2025/02/13 14:30", utc(2025, 2, 13, 14, 30)),
    ("02/13/2025", utc(2025, 2, 13)),  # can only be month first
    # French
    ("3 avril 2025 à 10h15", utc(2025, 4, 3, 10, 15)),
    ("jeudi 13 février 2025 à 14h30", utc(2025, 2, 13, 14, 30)),
    ("13 fevrier 2025", utc(2025, 2, 13)),
    ("Publié le 1er août 2025 à 9h", utc(2025, 8, 1, 9)),
    ("le 25 décembre 2025 à 18:45", utc(2025, 12, 25, 18, 45)),
    ("13 févr. 2025", utc(2025, 2, 13)),
    ("13 février 2025 à 14h30 est", utc(2025, 2, 13, 14, 30)),  # French "est", not EST
    # Russian, genitive and nominative
    ("13 февраля 2025 г. 14:30", utc(2025, 2, 13, 14, 30)),
    ("1 мая 2025 года", utc(2025, 5, 1)),
    ("Май 1 2025", utc(2025, 5, 1)),
    ("31 декабря 2025, 23:59", utc(2025, 12, 31, 23, 59)),
    ("5 сентября 2025", utc(2025, 9, 5)),
    # English long forms
    ("February 13, 2025 at 2:30 PM", utc(2025, 2, 13, 14, 30)),
    ("Thursday, 13 February 2025 08:00", utc(2025, 2, 13, 8)),
])
def test_formats(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("13/02/2025 14:30 +0300", utc(2025, 2, 13, 11, 30)),
    ("13/02/2025 14:30 +03:00", utc(2025, 2, 13, 11, 30)),
    ("13/02/2025 14:30 -0500", utc(2025, 2, 13, 19, 30)),
    ("13/02/2025 14:30 GMT+3", utc(2025, 2, 13, 11, 30)),
    ("13/02/2025 14:30 GMT-03:30", utc(2025, 2, 13, 18, 0)),
    ("13/02/2025 14:30 UTC", utc(2025, 2, 13, 14, 30)),
    ("13 فبراير 2025 14:30 بتوقيت غرينتش", utc(2025, 2, 13, 14, 30)),
    ("13 فبراير 2025 14:30 توقيت جرينتش +2", utc(2025, 2, 13, 12, 30)),
    ("13 فبراير 2025 14:30 ت.غ", utc(2025, 2, 13, 14, 30)),
    ("الخميس 13 فبراير 2025 - 14:30 بتوقيت مكة المكرمة", utc(2025, 2, 13, 11, 30)),
    ("13 يوليو 2025 - 14:30 بتوقيت القاهرة", utc(2025, 7, 13, 11, 30)),  # Cairo summer time
    ("13 فبراير 2025 14:30 (بتوقيت القدس)", utc(2025, 2, 13, 12, 30)),
    ("13 февраля 2025, 14:30 МСК", utc(2025, 2, 13, 11, 30)),
    ("13 февраля 2025 в 14:30 по московскому времени", utc(2025, 2, 13, 11, 30)),
    ("13/02/2025 14:30 Asia/Riyadh", utc(2025, 2, 13, 11, 30)),
    ("13 Feb 2025 14:30 EET", utc(2025, 2, 13, 12, 30)),
    ("13 Feb 2025 14:30 EEST", utc(2025, 2, 13, 11, 30)),
    ("13 Feb 2025 14:30 CET", utc(2025, 2, 13, 13, 30)),
    ("13 Feb 2025 14:30 CEST", utc(2025, 2, 13, 12, 30)),
    ("13 Feb 2025 14:30 MSK", utc(2025, 2, 13, 11, 30)),
    ("13 Feb 2025 14:30 AST", utc(2025, 2, 13, 11, 30)),  # Arabia, not Atlantic
    ("13 Feb 2025 14:30 GST", utc(2025, 2, 13, 10, 30)),
    ("13 Feb 2025 14:30 BST", utc(2025, 2, 13, 13, 30)),
    ("13 Feb 2025 14:30 EST", utc(2025, 2, 13, 19, 30)),
    ("13 Feb 2025 14:30 PDT", utc(2025, 2, 13, 21, 30)),
    ("February 13, 2025 at 2:30 PM EST", utc(2025, 2, 13, 19, 30)),
    ("13/02/2025 14:30 (AFP)", utc(2025, 2, 13, 14, 30)),  # an agency, not a zone
    ("13 فبراير 2025 بتوقيت مكة", utc(2025, 2, 12, 21)),  # no time: midnight in that zone
    ("13 Feb 2025 EET", utc(2025, 2, 12, 22)),
])
def test_zones(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", [
    "13/02/2025 14:30 IST",  # India, Israel or Ireland: left out of the table on purpose
    "Tue, 24 Nov 2026 10:00:00 SGT",
    "13/02/2025 14:30 EET+2",
    "13 فبراير 2025 14:30 HKT",
    "13 فبراير 2025 14:30 بالتوقيت المحلي",  # "local time": of where?
    "13 فبراير 2025 14:30 بتوقيت كوالالمبور",
    "13/02/2025 14:30 Mars/Olympus_Mons",
    "13/02/2025 14:30 +3",  # a bare offset has two hour digits
    "13/02/2025 14:30 +1900",
])
def test_unknown_zones_are_unreadable_not_utc(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize("text", [
    "", "   ", "hello world", "عاجل", "13 فبراير", "فبراير 2025", "32/01/2025", "13/13/2025",
    "30/02/2025", "13/02/2025 25:00", "14/08/1446", "14 شعبان 1446هـ", "13 شباط/مارس 2025",
    "13 ШБ 2025", "2025", "١٢:٣٠",
])
def test_garbage_is_none(text: str) -> None:
    assert parse_date(text) is None


def test_zone_table_is_sane() -> None:
    assert all(-12 * 60 <= minutes <= 14 * 60 for minutes in ZONES.values())
    assert "IST" not in ZONES  # ambiguous


# -- feedparser_handler --------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Tue, 24 Nov 2026 10:00:00 +0000", "Tue, 24 Nov 2026 10:00:00 GMT",
    "Tue, 24 Nov 2026 10:00 -0500", "24 Nov 2026 10:00:00 EST", "Tue, 24 Nov 2026 10:00:00 UT",
    "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.123+03:00", "2026-11-24",
    "Tue, 24 November 2026 10:00:00 +0000",
])
def test_handler_leaves_what_feedparser_reads_right(text: str) -> None:
    assert feedparser_handler(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Tue, 24 Nov 2026 10:00:00 EET", utc(2026, 11, 24, 8)),
    ("Tue, 24 Nov 2026 10:00:00 MSK", utc(2026, 11, 24, 7)),
    ("Tue, 24 Nov 2026 10:00:00 AST", utc(2026, 11, 24, 7)),
    ("Tue, 24 Nov 2026 10:00:00 CEST", utc(2026, 11, 24, 8)),
    ("Tue, 24 Nov 2026 10:00:00 UTC+03:00", utc(2026, 11, 24, 7)),  # feedparser: UTC
    ("Tue, 24 Nov 2026 10:00:00 GMT+3", utc(2026, 11, 24, 7)),  # feedparser: unreadable
    ("13/02/2025 14:30", utc(2025, 2, 13, 14, 30)),
    ("2025/02/13 14:30", utc(2025, 2, 13, 14, 30)),  # feedparser alone: 2025-11-01
    ("3 avril 2025 10:15", utc(2025, 4, 3, 10, 15)),
    ("February 13, 2025", utc(2025, 2, 13)),
    ("الخميس، 13 شباط/فبراير 2025 - 14:30", utc(2025, 2, 13, 14, 30)),
    ("13 февраля 2025 г. 14:30", utc(2025, 2, 13, 14, 30)),
])
def test_handler_reads_what_feedparser_cannot(text: str, expected: datetime) -> None:
    parsed = feedparser_handler(text)
    assert parsed is not None and len(parsed) == 9
    assert datetime.fromtimestamp(calendar.timegm(parsed), UTC) == expected


def test_handler_returns_none_for_unreadable_non_ascii() -> None:
    assert feedparser_handler("لا تاريخ هنا") is None
    assert feedparser_handler("13 فبراير 2025 14:30 HKT") is None


# -- end to end through the parse stage -----------------------------------------------------


def rss_item(pub_date: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            "<link>https://outlet.example/</link><item><title>خبر</title>"
            f"<link>https://outlet.example/1</link><pubDate>{pub_date}</pubDate></item>"
            "</channel></rss>").encode()


@pytest.mark.parametrize(("pub_date", "expected"), [
    ("\n  الخميس، 13 شباط/فبراير 2025 - 14:30 بتوقيت مكة المكرمة\n", utc(2025, 2, 13, 11, 30)),
    ("١٣/٠٢/٢٠٢٥ ١٤:٣٠", utc(2025, 2, 13, 14, 30)),
    ("Tue, 24 Nov 2026 10:00:00 EET", utc(2026, 11, 24, 8)),
    ("Tue, 24 Nov 2026 10:00:00 +0300", utc(2026, 11, 24, 7)),  # still feedparser's
])
def test_parse_reads_dates_through_the_handler(pub_date: str, expected: datetime) -> None:
    [entry] = parse(rss_item(pub_date), url="https://outlet.example/feed.xml").entries
    assert entry.published == expected

"""aggregator.text: the display, matching and word views, title keys and noise cleaning."""

from __future__ import annotations

import pytest

from aggregator.text import (
    HAMZA_ALEF,
    clean_noise,
    display_view,
    matching_view,
    title_key,
    word_view,
)

# Real-world spellings of one headline, as different outlets publish it.
UKRAINE = "أوكرانيا"
UKRAINE_PRESENTATION_FORMS = "\ufe83\ufeed\ufedb\ufeae\ufe8d\ufee7\ufef4\ufe8e"  # ﺃﻭﻛﺮﺍﻧﻴﺎ
UKRAINE_DIACRITICS = "أُوكْرَانْيَا"
UKRAINE_TATWEEL = "أوكـــرانيا"
UKRAINE_NO_HAMZA = "اوكرانيا"


# display_view ---------------------------------------------------------------------------------

def test_display_view_folds_arabic_presentation_forms() -> None:
    assert display_view(UKRAINE_PRESENTATION_FORMS) == UKRAINE


def test_display_view_folds_lam_alef_ligature_and_allah_ligature() -> None:
    assert display_view("\ufefb \ufdf2") == "لا الله"


@pytest.mark.parametrize("invisible", [
    "\u200b", "\u200c", "\u200d", "\u2060", "\u200e", "\u200f", "\u061c", "\u202a", "\u202b",
    "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\u00ad",
])
def test_display_view_removes_invisible_characters_inside_words(invisible: str) -> None:
    assert display_view(f"أوكر{invisible}انيا") == UKRAINE


def test_display_view_turns_nbsp_into_space_and_collapses_whitespace() -> None:
    assert display_view("  الكرملين\u00a0\u00a0يرد\n\t على  واشنطن ") == "الكرملين يرد على واشنطن"


def test_display_view_keeps_what_a_reader_sees() -> None:
    # Diacritics, hamza, ta marbuta, punctuation and case are the reader's business.
    text = "قالَ «الرئيسُ»: إنّ الحربَ انتهت؟ Yes."
    assert display_view(text) == text


def test_display_view_of_empty_and_blank_text() -> None:
    assert display_view("") == ""
    assert display_view(" \u00a0\u200b ") == ""


# matching_view --------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", [
    UKRAINE, UKRAINE_PRESENTATION_FORMS, UKRAINE_DIACRITICS, UKRAINE_TATWEEL, UKRAINE_NO_HAMZA,
    "إوكرانيا", "آوكرانيا", "ٱوكرانيا", "أوكر\u200dانيا",
])
def test_matching_view_folds_every_spelling_of_ukraine_to_one(spelling: str) -> None:
    assert matching_view(spelling) == "اوكرانيا"


@pytest.mark.parametrize(("text", "expected"), [
    ("غزة", "غزه"),  # ta marbuta
    ("مستشفى", "مستشفي"),  # alef maqsura
    ("ایران", "ايران"),  # Persian yeh
    ("کرملین", "كرملين"),  # Persian kaf and yeh
    ("هٰذا", "هذا"),  # superscript alef
    ("الرَّحْمَٰنِ", "الرحمن"),  # shadda, fatha, sukun, kasra, superscript alef
    ("ذَٰلِكَ ٱلْيَوْمُ ۛ فِيهِ ۚ", "ذلك اليوم فيه"),  # Quranic marks, alef wasla
    ("١٣/٠٢/٢٠٢٥", "13/02/2025"),  # Arabic-Indic digits
    ("۱۴۰۳", "1403"),  # Persian digits
    ("The KREMLIN", "the kremlin"),
    ("Кремль ЗАЯВИЛ", "кремль заявил"),
    ("Straße", "strasse"),  # casefold, not lower
])
def test_matching_view_folds(text: str, expected: str) -> None:
    assert matching_view(text) == expected


@pytest.mark.parametrize("word", ["مسؤول", "رئيس", "سؤال", "بيئة"])
def test_matching_view_keeps_hamza_on_waw_and_yeh(word: str) -> None:
    # pyarabic folds ؤ/ئ to ء: that merges different words, so we do not.
    assert "ؤ" in matching_view(word) or "ئ" in matching_view(word)


def test_matching_view_keeps_punctuation_and_single_spaces() -> None:
    assert matching_view("«عاجلٌ»:  ترامبُ ، بوتين") == "«عاجل»: ترامب ، بوتين"


def test_matching_view_drops_a_word_made_only_of_marks_without_double_space() -> None:
    assert matching_view("قال \u064e\u0651 بوتين") == "قال بوتين"


def test_matching_view_is_idempotent() -> None:
    text = "وأعلنتْ «الخارجيّة» الإيرانيّة، يوم ١٣ فبراير: Iran's FM — لا"
    assert matching_view(matching_view(text)) == matching_view(text)


# word_view -------------------------------------------------------------------------------------

def test_word_view_turns_punctuation_and_symbols_into_word_breaks() -> None:
    assert word_view("«عاجل»: ترامب/بوتين؛ Iran's 🔴 covid-19").split() == [
        "عاجل", "ترامب", "بوتين", "iran", "s", "covid", "19"]


def test_word_view_keep_hamza_marks_hamza_alefs_only() -> None:
    assert word_view("أنس إيران آسيا ٱبن انس", keep_hamza=True).split() == [
        "أنس", "أيران", "أسيا", "ابن", "انس"]


@pytest.mark.parametrize("text", [
    "وأعلنت إيران، يوم ١٣/٠٢: «لا تفاوض»",
    UKRAINE_PRESENTATION_FORMS + "\u00a0" + UKRAINE_DIACRITICS,
    "أوكر\u200bانيا Straße ﻷ",
    "",
])
def test_word_view_with_and_without_hamza_have_the_same_words(text: str) -> None:
    assert word_view(text, keep_hamza=True).replace(HAMZA_ALEF, "ا") == word_view(text)


@pytest.mark.parametrize("text", [
    "أوكر\u200bانيا\u00a0والكرملين",  # invisible character and NBSP
    UKRAINE_PRESENTATION_FORMS,  # presentation forms
    "ا\u0653سيا",  # alef + combining madda composes to آ under NFKC
    "Cafe\u0301 Élysée",  # combining acute
])
def test_word_view_fast_path_agrees_with_the_display_view(text: str) -> None:
    assert word_view(text).split() == word_view(display_view(text)).split()
    assert " ".join(word_view(text).split()) == title_key(text)


# title_key -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("one", "other"), [
    ("«عاجل»: ترامبُ يلتقي بوتين؛ هل ينتهي الصراع؟", "عاجل - ترامب يلتقي بوتين.. هل ينتهي الصراع"),
    ("إسرائيل تعلن وقف إطلاق النار في غزة", "اسرائيل تعلن وقف اطلاق النار في غزه!"),
    ("الكرملين: لا محادثات مع كييف", "الكرملــين : لا مُحادثات مع كييف"),
    ("Trump meets Putin: what's next?", "TRUMP MEETS PUTIN — What’s next"),
    ("🔴 عاجل| انفجار في بيروت", "عاجل: انفجار في بيروت"),
])
def test_title_key_is_shared_by_the_same_headline(one: str, other: str) -> None:
    assert title_key(one) == title_key(other)


def test_title_key_value() -> None:
    assert title_key("«عاجل»: ترامبُ يلتقي بوتين؛ هل ينتهي الصراع؟") == (
        "عاجل ترامب يلتقي بوتين هل ينتهي الصراع")


def test_title_key_tells_different_headlines_apart() -> None:
    assert title_key("ترامب يلتقي بوتين") != title_key("ترامب لا يلتقي بوتين")
    assert title_key("مسؤول إيراني") != title_key("مسءول إيراني")  # ؤ is not folded


def test_title_key_of_punctuation_only_is_empty() -> None:
    assert title_key(" «» — ، ؟ ") == ""


# clean_noise -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("× عاجل: انفجار في بيروت", "عاجل: انفجار في بيروت"),
    ("عاجل: انفجار في بيروت ✕", "عاجل: انفجار في بيروت"),
    ("✖  Breaking:   blast in Beirut  ×", "Breaking: blast in Beirut"),
    ("x Trump meets Putin", "Trump meets Putin"),
    ("Trump meets Putin x", "Trump meets Putin"),
    ("× ✕ عاجل", "عاجل"),
    ("×", ""),
    ("  الكرملين\u00a0\u00a0يرد  ", "الكرملين يرد"),
])
def test_clean_noise_removes_close_glyphs_and_whitespace_runs(text: str, expected: str) -> None:
    assert clean_noise(text) == expected


@pytest.mark.parametrize("text", [
    "X bans political ads",  # a lone upper-case X opening a headline is the network
    "xAI raises funds",  # not a lone glyph
    "ملعب 100×60 متر",  # not at either end
    "فاز 3 × 1",
])
def test_clean_noise_keeps_real_text(text: str) -> None:
    assert clean_noise(text) == text

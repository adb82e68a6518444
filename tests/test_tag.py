"""The tag stage: topic terms matched as whole words, Arabic proclitics and spellings included."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from aggregator.config import TopicConfig
from aggregator.explain import explain_entry, explain_text, retag, retag_summary
from aggregator.models import Entry
from aggregator.pipeline.tag import Match, TopicMatcher, russian_forms, tag, vowel_variants
from aggregator.text import matching_view, word_view

TOPICS = (
    TopicConfig("kremlin", "Kremlin", ("الكرملين", "Kremlin", "Кремль")),
    TopicConfig("ukraine", "Ukraine", ("أوكرانيا", "Ukraine", "Украина")),
    TopicConfig("russia", "Russia", ("روسيا", "Russia", "Россия")),
    TopicConfig("trump", "Trump", ("ترامب", "ترمب", "Trump")),
    TopicConfig("vance", "Vance", ("فانس", "JD Vance")),
    TopicConfig("anas", "Anas", ("انس",)),  # the name أنس, written without hamza on purpose
    TopicConfig("israeli", "Israeli", ("إسرائيلي",)),
    TopicConfig("white-house", "White House", ("البيت الأبيض", "White House", "Maison Blanche")),
    TopicConfig("iran", "Iran", ("Iran", "إيران")),
    TopicConfig("putin", "Putin", ("بوتين", "Putin", "Путин", "Poutine")),
    TopicConfig("covid", "Covid", ("كوفيد-19", "COVID-19")),
    TopicConfig("oil", "Oil", ("النفط", "oil"), exclude=("زيت الزيتون", "olive oil")),
    TopicConfig("iran-economy", "Iran economy", ("الاقتصاد الإيراني الجديد",)),
)


@pytest.fixture(scope="module")
def matcher() -> TopicMatcher:
    return TopicMatcher(TOPICS)


POSITIVE = [
    # The article term: with the article, after proclitics, and fused into لل.
    ("الكرملين يرفض", "kremlin"),
    ("قال المتحدث والكرملين", "kremlin"),
    ("اجتماع بالكرملين أمس", "kremlin"),
    ("رسالة للكرملين من واشنطن", "kremlin"),
    ("فالكرملين لم يرد", "kremlin"),
    # Proclitics before a term without the article.
    ("دعم أوكرانيا", "ukraine"),
    ("روسيا وأوكرانيا", "ukraine"),
    ("الحرب بأوكرانيا", "ukraine"),
    ("مساعدات لأوكرانيا", "ukraine"),
    ("فبأوكرانيا ما زال القتال", "ukraine"),
    ("كأوكرانيا", "ukraine"),
    ("وللأوكرانيا", "ukraine"),
    # Hamza/alef variants, diacritics, tatweel, presentation forms, invisible characters, NBSP.
    ("الحرب في اوكرانيا", "ukraine"),
    ("الحرب في إوكرانيا", "ukraine"),
    ("الحرب في واوكرانيا", "ukraine"),  # a long bare-alef stem still splits from و
    ("الحرب في أُوكْرَانْيَا", "ukraine"),
    ("الحرب في أوكـــرانيا", "ukraine"),
    ("الحرب في \ufe83\ufeed\ufedb\ufeae\ufe8d\ufee7\ufef4\ufe8e", "ukraine"),
    ("الحرب في أوكر\u200bانيا", "ukraine"),
    ("الحرب في أوكرا\u200cنيا", "ukraine"),
    ("الحرب في\u00a0أوكرانيا\u00a0اليوم", "ukraine"),
    ("\u202bأوكرانيا\u202c", "ukraine"),
    # Punctuation around a word does not hide it.
    ("«روسيا»: لا مفاوضات", "russia"),
    ("هل تتراجع روسيا؟", "russia"),
    ("روسيا، الصين", "russia"),
    # Alternative spellings listed as terms; ة/ى folding in the text.
    ("ترمب يهدد", "trump"),
    ("ترامبُ يهدد", "trump"),
    # The bare-alef rule only stops short stems without hamza: فأنس is ف + أنس.
    ("وصل أنس", "anas"),
    ("فأنس لم يصل", "anas"),
    ("وأنس الشريف", "anas"),
    ("نائب الرئيس فانس", "vance"),
    # Nisba endings after a term ending in ي, with and without proclitics.
    ("قتلى إسرائيلي", "israeli"),
    ("الإسرائيليين", "israeli"),
    ("والإسرائيليون", "israeli"),
    ("الحكومة الإسرائيلية", "israeli"),
    ("للإسرائيليات", "israeli"),
    ("جنديين إسرائيليين", "israeli"),
    # Phrases, Arabic and Latin, across punctuation, with proclitics on the first word.
    ("بيان البيت الأبيض", "white-house"),
    ("رسالة للبيت الأبيض", "white-house"),
    ("والبيت الابيض", "white-house"),
    ("the White House said", "white-house"),
    ("The White-House's press office", "white-house"),
    ("WHITE HOUSE", "white-house"),
    ("la Maison-Blanche a annoncé", "white-house"),
    ("JD Vance met", "vance"),
    ("الاقتصاد الإيراني الجديد", "iran-economy"),
    ("بالاقتصاد الايراني، الجديد", "iran-economy"),
    # Latin and Cyrillic: whole words, any case.
    ("IRAN's foreign minister", "iran"),
    ("sanctions on Iran.", "iran"),
    ("iran", "iran"),
    ("Путин заявил", "putin"),
    ("ПУТИН", "putin"),
    ("Кремль ответил", "kremlin"),
    ("Poutine a dit", "putin"),
    ("Moscow and the kremlin", "kremlin"),
    # Digits: Arabic-Indic and Western, hyphen or space.
    ("إصابات كوفيد-١٩ تتراجع", "covid"),
    ("إصابات كوفيد ١٩", "covid"),
    ("Covid 19 cases", "covid"),
    # A term with exclude terms still applies when no exclude term occurs.
    ("ارتفاع أسعار النفط", "oil"),
    ("وبالنفط", "oil"),
    ("Oil prices rose", "oil"),
]


@pytest.mark.parametrize(("text", "topic"), POSITIVE)
def test_term_matches(matcher: TopicMatcher, text: str, topic: str) -> None:
    assert topic in matcher.topics_for(text)


NEGATIVE = [
    # No greedy stripping: و/ف come before ب/ك/ل, and nothing else is stripped.
    ("بوروسيا دورتموند يفوز", "russia"),  # Borussia is not ب+و+روسيا
    ("فانس يزور", "anas"),  # Vance is not ف+انس
    ("بانس", "anas"),
    ("ترامبولين للأطفال", "trump"),  # no suffix
    ("الترامبية", "trump"),
    ("أوكرانيون", "ukraine"),  # nisba endings only after a term ending in ي
    ("إسرائيل تعلن", "israeli"),  # إسرائيلي is not إسرائيل
    ("إسرائيليي", "israeli"),
    ("كرملين", "kremlin"),  # a term written with the article needs it
    ("روسياالجديدة", "russia"),  # words glued together are another word
    # Phrases need their words in a row.
    ("البيت الكبير الأبيض", "white-house"),
    ("البيت", "white-house"),
    ("الأبيض المتوسط", "white-house"),
    ("house white", "white-house"),
    ("whitehouse", "white-house"),
    ("الاقتصاد الإيراني", "iran-economy"),
    ("الاقتصاد الجديد الإيراني", "iran-economy"),
    # Latin and Cyrillic: whole words only; no inflection.
    ("Iranian officials", "iran"),  # 'Iran' does not match 'Iranian' unless that is listed
    ("Irani", "iran"),
    ("Ukrainian grain", "ukraine"),
    ("covid", "covid"),
    ("19", "covid"),
    ("Vance", "vance"),  # the term is "JD Vance"
    ("oily", "oil"),
    ("toil", "oil"),
]


@pytest.mark.parametrize(("text", "topic"), NEGATIVE)
def test_term_does_not_match(matcher: TopicMatcher, text: str, topic: str) -> None:
    assert topic not in matcher.topics_for(text)


@pytest.mark.parametrize("text", [
    "ارتفاع أسعار زيت الزيتون",
    "ارتفاع أسعار النفط وزيت الزيتون",  # the exclude term vetoes wherever it is
    "وبزيت الزيتون ارتفع النفط",
    "Olive oil prices soar",
    "Oil prices rose; olive-oil prices too",
])
def test_exclude_term_vetoes_the_topic(matcher: TopicMatcher, text: str) -> None:
    assert "oil" not in matcher.topics_for(text)


def test_exclude_term_vetoes_only_its_own_topic(matcher: TopicMatcher) -> None:
    assert matcher.topics_for("زيت الزيتون في روسيا") == ("russia",)


def test_topics_come_in_configuration_order(matcher: TopicMatcher) -> None:
    text = "Oil: Trump, Putin and the Kremlin on Ukraine; إيران وروسيا"
    assert matcher.topics_for(text) == (
        "kremlin", "ukraine", "russia", "trump", "iran", "putin", "oil")


def test_no_topic_for_unrelated_or_empty_text(matcher: TopicMatcher) -> None:
    assert matcher.topics_for("الطقس معتدل في القاهرة") == ()
    assert matcher.topics_for("") == ()
    assert TopicMatcher(()).topics_for("الكرملين") == ()


def test_a_term_with_no_letters_is_an_error() -> None:
    with pytest.raises(ValueError, match="topic 'bad'"):
        TopicMatcher([TopicConfig("bad", "Bad", ("«»",))])


def test_terms_are_folded_like_the_text() -> None:
    kremlin = "\ufe8d\ufedf\ufedc\ufeae\ufee3\ufee0\ufef4\ufee6"  # ﺍﻟﻜﺮﻣﻠﻴﻦ
    matcher = TopicMatcher([TopicConfig("ua", "UA", ("أُوكْرَانْيَـــا",)),
                            TopicConfig("kremlin", "Kremlin", (kremlin,)),
                            TopicConfig("covid", "Covid", ("كوفيد-١٩",))])
    assert matcher.topics_for("بأوكرانيا") == ("ua",)
    assert matcher.topics_for("للكرملين") == ("kremlin",)
    assert matcher.topics_for("كوفيد 19") == ("covid",)


def test_two_topics_sharing_a_term_both_apply() -> None:
    matcher = TopicMatcher([TopicConfig("a", "A", ("غزة",)), TopicConfig("b", "B", ("غزه",))])
    assert matcher.topics_for("قصف على غزة") == ("a", "b")


# matches: the explain helper --------------------------------------------------------------------

def test_matches_locates_terms_in_the_word_view(matcher: TopicMatcher) -> None:
    text = "قال الكرملين إن «أوكرانيا» وبالبيت الأبيض"
    found = matcher.matches(text)
    view = word_view(text)
    assert list(found) == ["kremlin", "ukraine", "white-house"]
    assert found["ukraine"] == [Match("ukraine", "أوكرانيا", "terms", 17, 25, "اوكرانيا")]
    (white_house,) = found["white-house"]
    assert white_house.term == "البيت الأبيض"
    assert white_house.found == "وبالبيت الابيض" == view[white_house.start:white_house.end]


def test_matches_reports_exclude_terms_and_every_occurrence(matcher: TopicMatcher) -> None:
    found = matcher.matches("النفط والنفط وزيت الزيتون")
    assert [(m.term, m.found, m.rule) for m in found["oil"]] == [
        ("النفط", "النفط", "terms"), ("النفط", "والنفط", "terms"),
        ("زيت الزيتون", "وزيت الزيتون", "exclude")]


@pytest.mark.parametrize("text", [text for text, _ in POSITIVE + NEGATIVE] + [
    "ارتفاع أسعار النفط وزيت الزيتون", "Oil: Trump, Putin and the Kremlin on Ukraine"])
def test_matches_agrees_with_topics_for(matcher: TopicMatcher, text: str) -> None:
    assert _applies(matcher, text) == matcher.topics_for(text)


def _applies(matcher: TopicMatcher, text: str) -> tuple[str, ...]:
    """The topics matches() says apply, by the rule of its docstring."""
    needs_with = {t.id for t in matcher.topics if t.with_terms}
    return tuple(topic for topic, ms in matcher.matches(text).items()
                 if any(m.rule in ("terms", "case_sensitive", "regex") for m in ms)
                 and not any(m.rule == "exclude" for m in ms)
                 and (topic not in needs_with or any(m.rule == "with" for m in ms)))


# The issue-4 schema: spelling variants, Russian endings, elisions, case, with, regex -------------

NEWS = (
    TopicConfig("trump", "Trump", ("ترامب", "Трамп"), case_sensitive=("Trump",)),
    TopicConfig("putin", "Putin", ("بوتين", "Путин"), case_sensitive=("Poutine",)),
    TopicConfig("ukraine", "Ukraine", ("زيلينسكي", "كييف", "Ukraine", "Украина", "Зеленский")),
    TopicConfig("kremlin", "Kremlin", ("الكرملين", "Кремль", "Москва")),
    TopicConfig("gaza", "Gaza", ("Газа", "США")),
    TopicConfig("iran", "Iran", ("Iran", "Israël", "إيران")),
    TopicConfig("iran-nuclear", "Iran nuclear", ("Iran", "إيران", "Иран"),
                with_terms=("nuclear", "نووي", "ядерный")),
    TopicConfig("ai", "AI", ("الذكاء الاصطناعي",), case_sensitive=("AI", "IA", "Open AI"),
                regex=(r"\bgpt-?\d",)),
    TopicConfig("court", "Court", ("المحكمة الدولية",)),
    TopicConfig("agency", "Agency", ("الدولية",)),
    TopicConfig("musk", "Musk", ("ماسك",)),
)


@pytest.fixture(scope="module")
def news() -> TopicMatcher:
    return TopicMatcher(NEWS)


NEWS_POSITIVE = [
    # One long vowel more or less inside an Arabic word of 5+ letters, proclitics still allowed.
    ("ترمب يهدد", "trump"),
    ("تصريحات بوتن", "putin"),
    ("وبوتن", "putin"),
    ("زيلنسكي في باريس", "ukraine"),
    ("الكرملن يرد", "kremlin"),
    ("بالكرملن", "kremlin"),
    ("تيرامب", "trump"),
    # Russian case endings, and a capitalized term in any capitalization that keeps its capital.
    ("Помощь Украине", "ukraine"),
    ("границы Украины", "ukraine"),
    ("стены Кремля", "kremlin"),
    ("в Москву", "kremlin"),
    ("встреча с Путиным", "putin"),
    ("ПУТИНА", "putin"),
    ("слова Зеленского", "ukraine"),
    ("удары по Газе", "gaza"),
    ("сектор Газы", "gaza"),
    ("визит Трампа", "trump"),
    ("США", "gaza"),  # an abbreviation matches as written
    # French elisions, with ' and ’ and the letter-like ʼ.
    ("l'Iran", "iran"),
    ("d’Iran", "iran"),
    ("qu'Israël", "iran"),
    ("lʼIran", "iran"),
    # Case-sensitive terms: exactly this case, any punctuation around.
    ("AI chips", "ai"),
    ("AI-powered", "ai"),
    ("l’IA générative", "ai"),
    ("Open-AI", "ai"),
    ("Trump's tariffs", "trump"),
    ("Poutine a dit", "putin"),
    ("la trump card et Trump", "trump"),
    # with: a term and one of the `with` terms.
    ("Iran's nuclear programme", "iran-nuclear"),
    ("البرنامج النووي الإيراني وإيران", "iran-nuclear"),
    ("إيران والملف النووي", "iran-nuclear"),
    ("Иран и ядерной сделки", "iran-nuclear"),
    # regex, in the matching view (lower case).
    ("OpenAI's GPT-5", "ai"),
    ("gpt4o", "ai"),
]


@pytest.mark.parametrize(("text", "topic"), NEWS_POSITIVE)
def test_new_rules_match(news: TopicMatcher, text: str, topic: str) -> None:
    assert topic in news.topics_for(text)


NEWS_NEGATIVE = [
    ("كيف حالك", "ukraine"),  # كييف has 4 letters: no variant; and no doubled letter
    ("موسكو", "musk"),
    ("ترامبولين", "trump"),
    ("البروتين", "putin"),
    ("بوتان", "putin"),  # a vowel replaced is not a vowel inserted or deleted
    ("ترامبب", "trump"),
    ("الدولة", "agency"),  # ية is an ending, not a spelling: الدولية is not الدولة
    ("المحكمة الدولة", "court"),
    # A capitalized Cyrillic term needs a capital in the text.
    ("добыча газа", "gaza"),
    ("началась путина", "putin"),
    ("казанский кремль", "kremlin"),
    ("сша", "gaza"),
    ("СШАов", "gaza"),  # an abbreviation takes no ending
    # Case-sensitive terms.
    ("Ai Weiwei", "ai"),
    ("ai", "ai"),
    ("a trump card", "trump"),
    ("TRUMP", "trump"),
    ("la poutine québécoise", "putin"),
    ("open ai", "ai"),
    # with: a term alone, or a `with` term alone, is not enough.
    ("Iran's oil exports", "iran-nuclear"),
    ("North Korea's nuclear test", "iran-nuclear"),
    ("Иран", "iran-nuclear"),
    ("gpt", "ai"),
]


@pytest.mark.parametrize(("text", "topic"), NEWS_NEGATIVE)
def test_new_rules_do_not_match(news: TopicMatcher, text: str, topic: str) -> None:
    assert topic not in news.topics_for(text)


def test_a_with_term_and_an_exclude_term_combine() -> None:
    matcher = TopicMatcher([TopicConfig("deal", "Deal", ("Iran",), exclude=("football",),
                                        with_terms=("nuclear",))])
    assert matcher.topics_for("Iran nuclear deal") == ("deal",)
    assert matcher.topics_for("Iran nuclear football") == ()
    assert matcher.topics_for("Iran football") == ()


def test_a_term_may_also_be_its_own_with_term() -> None:
    matcher = TopicMatcher([TopicConfig("n", "N", ("Iran", "Natanz"), with_terms=("Natanz",))])
    assert matcher.topics_for("strike on Natanz") == ("n",)


def test_a_topic_of_regexes_only() -> None:
    matcher = TopicMatcher([TopicConfig("f35", "F-35", (), regex=(r"\bf-?35\b",))])
    assert matcher.topics_for("Israel receives more F-35 jets") == ("f35",)
    assert matcher.topics_for("صفقة مقاتلات F35") == ("f35",)
    assert matcher.topics_for("F-350 trucks") == ()


def test_matches_names_the_rule_of_each_occurrence(news: TopicMatcher) -> None:
    found = news.matches("a trump card, then Trump and ترمب; Iran: nuclear talks")
    assert [(m.term, m.rule, m.found) for m in found["trump"]] == [
        ("Trump", "case_sensitive", "trump"), ("ترامب", "terms", "ترمب")]
    assert found["trump"][0].start == len("a trump card, then ")
    assert [(m.rule, m.found) for m in found["iran-nuclear"]] == [
        ("terms", "iran"), ("with", "nuclear")]


def test_matches_reports_regex_offsets_in_the_matching_view(news: TopicMatcher) -> None:
    text = "OpenAI’s GPT-5 is out"
    (match,) = news.matches(text)["ai"]
    assert (match.rule, match.term, match.found) == ("regex", r"\bgpt-?\d", "gpt-5")
    assert matching_view(text)[match.start:match.end] == "gpt-5"


@pytest.mark.parametrize("text", [text for text, _ in NEWS_POSITIVE + NEWS_NEGATIVE] + [
    "Иран: ядерный", "Ai Weiwei and AI", "Iran football nuclear"])
def test_matches_agrees_with_topics_for_on_the_new_rules(news: TopicMatcher, text: str) -> None:
    assert _applies(news, text) == news.topics_for(text)


def test_variants_never_double_a_letter_nor_touch_a_final_ta_marbuta() -> None:
    assert vowel_variants("كييف") == set()  # under 5 letters
    assert "ترمب" in vowel_variants("ترامب") and "بوتن" in vowel_variants("بوتين")
    assert not any("اا" in v or "يي" in v for v in vowel_variants("بوتين"))
    assert not any(v.endswith("له") for v in vowel_variants("دوليه"))


def test_russian_forms_follow_how_the_word_ends() -> None:
    assert {"украины", "украине", "украину", "украиной"} <= russian_forms("украина")
    assert {"кремля", "кремлю", "кремлём", "кремле"} <= russian_forms("кремль")
    assert {"путина", "путину", "путиным", "путине"} <= russian_forms("путин")
    assert {"зеленского", "зеленскому", "зеленским"} <= russian_forms("зеленский")
    assert russian_forms("нетаньяху") == {"нетаньяху"}


# tag --------------------------------------------------------------------------------------------

def _entry(text: str, **changes: object) -> Entry:
    when = datetime(2025, 2, 13, 9, 30, tzinfo=UTC)
    entry = Entry(source_id="aljazeera", guid=text, link=None, canonical_link=None, title=text,
                  summary_html="", content_html="", text=text, title_key="", author=None,
                  language="ar", published=when, updated=when, content_hash="h")
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


def test_tag_sets_topics_from_the_text_and_nothing_else(matcher: TopicMatcher) -> None:
    entries = [_entry("وفد من الكرملين يصل إلى أوكرانيا"), _entry("الطقس معتدل", topics=("old",)),
               _entry("Trump", title="عنوان")]
    tagged = tag(iter(entries), matcher)
    assert isinstance(tagged, tuple)
    assert [e.topics for e in tagged] == [("kremlin", "ukraine"), (), ("trump",)]
    assert tagged[2].title == "عنوان"
    assert [dataclasses.replace(e, topics=()) for e in tagged] == [
        dataclasses.replace(e, topics=()) for e in entries]


def test_tag_of_no_entries(matcher: TopicMatcher) -> None:
    assert tag([], matcher) == ()


# explain: the operator's report -----------------------------------------------------------------

def test_explain_text_shows_the_view_each_match_and_the_deciding_rule() -> None:
    matcher = TopicMatcher([
        TopicConfig("us", "US", ("ترامب",), case_sensitive=("Trump",)),
        TopicConfig("oil", "Oil", ("النفط",), exclude=("زيت الزيتون",)),
        TopicConfig("nuclear", "Nuclear", ("إيران",), with_terms=("نووي", "uranium")),
        TopicConfig("ukraine", "Ukraine", ("كييف",)),
    ])
    report = explain_text("ترمب: النفط وزيت الزيتون في إيران، trump card", matcher)

    assert report.splitlines() == [
        "matching view: ترمب: النفط وزيت الزيتون في ايران، trump card",
        "us: yes",
        "  terms          'ترامب' found «ترمب» at 0-4",
        "oil: no: vetoed by exclude 'زيت الزيتون'",
        "  terms          'النفط' found «النفط» at 6-11",
        "  exclude        'زيت الزيتون' found «وزيت الزيتون» at 12-24",
        "nuclear: no: none of its `with` terms occurs ('نووي', 'uranium')",
        "  terms          'إيران' found «ايران» at 28-33",
        "topics: us",
    ]


def test_explain_text_when_nothing_matches() -> None:
    matcher = TopicMatcher(NEWS)
    assert explain_text("الطقس معتدل", matcher).splitlines()[1:] == [
        f"no term of the {len(NEWS)} topics occurs", "topics: (none)"]


def test_explain_text_names_a_topic_only_its_with_term_touched(news: TopicMatcher) -> None:
    report = explain_text("nuclear talks", news)
    assert "iran-nuclear: no: none of its terms occurs (only with 'nuclear')" in report


@pytest.mark.parametrize("text", [text for text, _ in NEWS_POSITIVE + NEWS_NEGATIVE])
def test_explain_text_ends_with_what_topics_for_gives(news: TopicMatcher, text: str) -> None:
    verdicts = [line.split(":")[0] for line in explain_text(text, news).splitlines()
                if line.endswith(": yes")]
    assert tuple(verdicts) == news.topics_for(text)
    assert explain_text(text, news).endswith(", ".join(news.topics_for(text)) or "(none)")


def test_explain_entry_shows_stored_and_current_topics(matcher: TopicMatcher) -> None:
    entry = _entry("وفد من الكرملين في كييف", topics=("russia", "kremlin"), identity="abc")
    report = explain_entry(entry, matcher)
    assert report.startswith("aljazeera abc\ntitle: وفد من الكرملين في كييف\nlanguage: ar\n"
                             "stored topics: russia, kremlin\n"
                             "the current configuration changes them: -russia\n"
                             "matching view: ")
    assert report.endswith("topics: kremlin")


def test_retag_lists_only_the_entries_that_change(matcher: TopicMatcher) -> None:
    same = _entry("الكرملين", topics=("kremlin",))
    gains = _entry("ترمب وبوتين", topics=("trump",))
    loses = _entry("الطقس", topics=("oil",))
    changes = retag([same, gains, loses], matcher)
    assert [(c.entry, c.topics, c.added, c.removed) for c in changes] == [
        (gains, ("trump", "putin"), ("putin",), ()), (loses, (), (), ("oil",))]
    assert retag_summary(changes) == "2 entries change topics: +putin 1, -oil 1"
    assert retag_summary(()) == "no entry changes topics"


def test_regexes_with_groups_or_global_flags_still_search() -> None:
    matcher = TopicMatcher([TopicConfig("a", "A", (), regex=(r"(\w)\1z",)),
                            TopicConfig("b", "B", (), regex=(r"\bqq\d", "(?s)x.y")),
                            TopicConfig("c", "C", (), regex=(r"\bnothing\b",))])
    assert matcher.topics_for("aaz") == ("a",)
    assert matcher.topics_for("qq5 and aaz") == ("a", "b")
    assert matcher.topics_for("x y") == ("b",)
    assert matcher.topics_for("abz") == ()

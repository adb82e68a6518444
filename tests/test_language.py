"""Language detection: short news items (headline and summary) in our four languages, written
for these tests; candidates restrict the answer; declared codes map to ISO 639-1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.pipeline.normalize import normalize
from aggregator.pipeline.parse import parse
from aggregator.text.language import detect, primary_code

ARABIC = [
    "زيلينسكي: كييف مستعدة لمفاوضات جديدة. أعلن الرئيس الأوكراني استعداد بلاده للتفاوض",
    "البنك المركزي يبقي أسعار الفائدة دون تغيير للمرة الثالثة على التوالي",
    "ارتفاع أسعار النفط مع تراجع المخزونات الأمريكية وسط مخاوف من نقص الإمدادات",
    "دخول قوافل مساعدات جديدة إلى غزة عبر معبر رفح بعد أسبوع من الإغلاق",
    "إيران توافق على جولة جديدة من المحادثات النووية مع القوى الأوروبية",
    "الأردن يطلق خطة وطنية لترشيد استهلاك المياه في القطاع الزراعي",
    "افتتاح أكبر محطة للطاقة الشمسية في المغرب بقدرة تكفي مئات الآلاف من المنازل",
    "مجلس الأمن يعقد جلسة طارئة لبحث التصعيد في جنوب لبنان",
    "انطلاق مهرجان الفيلم العربي بمشاركة 30 فيلما من 12 دولة",
    "وزير الخارجية السعودي يلتقي نظيره التركي في الرياض لبحث العلاقات الثنائية",
    "عاجل: زلزال بقوة 5.8 درجات يضرب شمال سوريا ولا أنباء عن إصابات",
]
ENGLISH = [
    "Zelensky says Kyiv is ready for new talks as the Kremlin rejects a ceasefire",
    "Iran and European powers resume nuclear talks in Vienna after a long pause",
    "House passes stopgap spending bill hours before shutdown deadline",
    "Late penalty sends Harbour Rovers into the cup semi-finals",
    "Kyiv rations electricity as strikes on the grid continue into winter",
    "Markets steady after the central bank holds rates. Share prices barely moved.",
    "Council approves new bus routes for the valley towns",
    "Flood defences finished ahead of schedule, officials say",
    "Museum extends opening hours for the winter exhibition",
    "Oil prices climb as US inventories fall for a third straight week",
    "UN Security Council holds emergency meeting on southern Lebanon",
]
FRENCH = [
    "Le Parlement européen adopte la réforme du marché de l'électricité",
    "Zelensky se dit prêt à de nouvelles négociations, le Kremlin refuse un cessez-le-feu",
    "L'Iran et les puissances européennes reprennent les discussions nucléaires à Vienne",
    "Les prix du pétrole grimpent après la baisse des stocks américains",
    "La Banque centrale maintient ses taux directeurs inchangés pour le troisième mois",
    "Grève dans les transports : le trafic sera très perturbé jeudi en Île-de-France",
    "Le gouvernement présente un projet de loi sur l'immigration au Conseil des ministres",
    "Séisme de magnitude 5,8 dans le nord de la Syrie, pas de victimes signalées",
    "Le festival du film arabe s'ouvre avec trente films venus de douze pays",
    "Les agriculteurs manifestent devant la préfecture contre la hausse des charges",
    "Coupe de France : Marseille éliminé aux tirs au but par un club de Ligue 2",
]
RUSSIAN = [
    "Зеленский заявил о готовности Киева к новым переговорам, Кремль отверг перемирие",
    "Иран и европейские страны возобновили переговоры по ядерной программе в Вене",
    "Центральный банк сохранил ключевую ставку без изменений",
    "Цены на нефть выросли на фоне сокращения запасов в США",
    "Совет Безопасности ООН провёл экстренное заседание по ситуации на юге Ливана",
    "В Москве открылась выставка современного искусства стран Ближнего Востока",
    "Госдума приняла в первом чтении законопроект о бюджете на следующий год",
    "Землетрясение магнитудой 5,8 произошло на севере Сирии, жертв нет",
    "Правительство утвердило новую программу поддержки сельского хозяйства",
    "Сборная России по хоккею обыграла команду Казахстана в товарищеском матче",
    "Аэропорт Шереметьево временно ограничил приём и отправку рейсов из-за снегопада",
]
PERSIAN = [
    "ایران با دور جدید مذاکرات هسته‌ای با کشورهای اروپایی موافقت کرد",
    "رئیس‌جمهور امروز در تهران با وزیر خارجه ترکیه دیدار کرد",
    "قیمت نفت پس از کاهش ذخایر آمریکا افزایش یافت",
]
CORPUS = {"ar": ARABIC, "en": ENGLISH, "fr": FRENCH, "ru": RUSSIAN}
OURS = ("ar", "en", "fr", "ru")


@pytest.mark.parametrize(("language", "text"),
                         [(lang, text) for lang, texts in CORPUS.items() for text in texts])
def test_news_items_are_detected(language: str, text: str) -> None:
    assert detect(text) == language
    assert detect(text, OURS) == language


@pytest.mark.parametrize("text", PERSIAN)
def test_persian_is_told_from_arabic_when_it_may_be_meant(text: str) -> None:
    assert detect(text) == "fa"
    assert detect(text, ("ar", "fa")) == "fa"
    assert detect(text, ("ar", "en")) == "ar"  # Arabic script, and Persian is not configured


def test_arabic_is_ar_never_a_dialect_code() -> None:
    # py3langid answers ary/arz for some Arabic texts; the Egyptian-flavoured one included
    egyptian = "الحكومة بتقول إن الأسعار هتنزل الشهر الجاي بعد ما الدولار استقر"
    assert detect(egyptian) == "ar"
    assert detect(egyptian, ("ar", "fa")) == "ar"


def test_candidates_restrict_the_answer() -> None:
    french = FRENCH[0]
    assert detect(french, ("en", "fr")) == "fr"
    assert detect(french, ("ar", "en")) == "en"  # the only Latin-script candidate
    assert detect(french, ("ar", "ru")) is None  # no candidate writes Latin script
    assert detect(RUSSIAN[0], ("ar", "en", "ru")) == "ru"
    assert detect(RUSSIAN[0], ("ru", "uk")) == "ru"
    assert detect(ARABIC[0], ("en", "fr")) is None
    assert detect(ENGLISH[0], ("EN-us", "fr-FR")) == "en"  # candidates are codes as declared


def test_dialect_candidates_mean_arabic() -> None:
    assert detect(ARABIC[1], ("arz", "en")) == "ar"
    assert detect(ARABIC[1], ("ary",)) == "ar"


@pytest.mark.parametrize("text", ["", "   ", "2025 - 14:30", "!!! ...", "\u200f\u200e"])
def test_text_without_letters_is_none(text: str) -> None:
    assert detect(text) is None


def test_detection_runs_on_the_display_view() -> None:
    # presentation forms and invisible marks, as scraped: NFKC gives plain Arabic letters
    scraped = "\ufeb3\ufe8e\ufecb\ufe94\u200f " + ARABIC[2]
    assert detect(scraped) == "ar"


@pytest.mark.parametrize(("code", "primary"), [
    ("ar", "ar"), ("ar-EG", "ar"), ("arz", "ar"), ("ary", "ar"), ("apc", "ar"), ("acm", "ar"),
    ("ara", "ar"), ("en_US", "en"), ("FRA", "fr"), ("rus", "ru"), ("pes", "fa"), ("iw", "he"),
    ("x", None), ("", None), (None, None), ("12", None), ("français", None),
])
def test_primary_code(code: str | None, primary: str | None) -> None:
    assert primary_code(code) == primary


def test_normalize_detects_undeclared_languages_and_maps_declared_ones() -> None:
    items = "".join(f"<item><title>{title}</title><link>/{i}</link></item>"
                    for i, title in enumerate([ARABIC[0], ENGLISH[2], FRENCH[3], RUSSIAN[2]]))
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://o.example/</link>{items}</channel></rss>").encode()
    feed = parse(body, url="https://o.example/feed.xml")
    now = datetime(2026, 11, 27, tzinfo=UTC)
    entries = normalize(feed, source_id="s", source_language=None, now=now, languages=OURS)
    assert [e.language for e in entries] == ["ar", "en", "fr", "ru"]
    # a declared dialect code is kept as its macrolanguage
    declared = normalize(feed, source_id="s", source_language="arz", now=now)
    assert {e.language for e in declared} == {"ar"}


# -- the compact model: the same answers as py3langid's own identifier, in less memory --------

POOLS = [("en", "fr"), ("ar", "ary", "arz", "fa"), ("ar", "ary", "arz", "fa", "ur"),
         ("ru", "uk", "bg"), ("sr", "hr", "bs"), ("uz", "tr", "az"), ("en", "fr", "de", "nl")]


@pytest.fixture(scope="module")
def reference() -> object:
    """py3langid's LanguageIdentifier, as language.py used it before it read the model itself."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def _texts() -> list[str]:
    texts = [t for texts in CORPUS.values() for t in texts] + PERSIAN
    mixed = [a[: len(a) // 2] + " " + b[len(b) // 2:]
             for a, b in zip(texts, texts[7:] + texts[:7], strict=True)]
    return texts + mixed + [t.upper() for t in ENGLISH[:3]] + ["", "123", "Ø", "Сербия Srbija"]


@pytest.mark.parametrize("pool", POOLS + [None], ids=lambda p: ",".join(p) if p else "all")
def test_scores_are_py3langids_bit_for_bit(reference: object, pool: tuple[str, ...] | None,
                                           ) -> None:
    import copy

    from aggregator.text import language

    model = language._model(frozenset())
    labels = frozenset(pool or model.labels)  # all: every label but zxx, as detect asks
    identifier = copy.copy(reference)
    identifier.set_languages(sorted(labels))  # type: ignore[attr-defined]
    scorer = model.scorer(labels)
    assert scorer is not None
    for text in _texts():
        ours = scorer.scores(model, language._encode(text))
        theirs = identifier._decide(text)  # type: ignore[attr-defined]
        assert ours.tobytes() == theirs.tobytes(), text
        best = identifier.classify(text)[0]  # type: ignore[attr-defined]
        assert scorer.classes[int(ours.argmax())] == best


def test_only_the_candidates_weights_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from aggregator.text import language

    monkeypatch.setattr(language, "_LOADED", [])  # a fresh model, read for these candidates
    assert detect(FRENCH[0], OURS) == "fr"
    model = language._LOADED[0]
    assert {model.classes[i] for i in model.kept} == {"ar", "ary", "arz", "en", "fr", "ru"}
    assert model.weights.shape == (model.weights.shape[0], 6)  # of 142 columns: 1 MiB, not 27
    assert detect(PERSIAN[0], ("ar", "fa")) == "fa"  # a new candidate: its column is added
    assert "fa" in {language._LOADED[0].classes[i] for i in language._LOADED[0].kept}
    assert detect(FRENCH[0], OURS) == "fr"

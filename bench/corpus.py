"""A deterministic corpus of news feeds for the benchmark: RSS 2.0, Atom and RSS 1.0, in
Arabic and English, with about one item in ten copied from another feed (same title, link
and text), as wire stories are. The same seed gives the same bytes, so the same ETags.

Words are drawn Zipf-wise (rank r weighs 1 / r^ZIPF) from a lexicon of LEXICON words per
language: a head of common news words, then the words of the labelled story set
(tests/data/stories_eval.jsonl), then made-up ones. ZIPF and LEXICON were chosen so that two
unrelated items share as many character 4-grams as two unrelated reports of the labelled set
do (Jaccard of their word views: median 0.04, 90th percentile 0.06). The first corpus drew
every text from the 51 head words alone, so any two items shared a third of their 4-grams,
as no two real reports do, and the story clusterer spent most of a first poll verifying
candidates that real feeds never produce.

Standard library only: the benchmark must not depend on what it measures.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

# Items are dated in the 72 hours before this fixed instant (a past date: no tool clamps it).
ANCHOR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FORMATS = ("rss2", "atom", "rss1")
FORMAT_WEIGHTS = (5, 3, 2)  # RSS 2.0 is still the most common dialect
SUFFIX = {"rss2": ".xml", "atom": ".atom", "rss1": ".rdf"}
CONTENT_TYPE = {"rss2": "application/rss+xml; charset=utf-8",
                "atom": "application/atom+xml; charset=utf-8",
                "rss1": "application/rdf+xml; charset=utf-8"}
DUPLICATE_SHARE = 0.10  # share of a feed's items copied from another feed

_WORDS = {
    "ar": ("الحكومة", "الرئيس", "وزير", "الخارجية", "مجلس", "الأمن", "اجتماع", "قمة", "اتفاق",
           "مفاوضات", "الاقتصاد", "النفط", "أسعار", "البنك", "المركزي", "انتخابات", "البرلمان",
           "المعارضة", "احتجاجات", "العاصمة", "الجيش", "هجوم", "صواريخ", "هدنة", "المساعدات",
           "الإنسانية", "اللاجئين", "الحدود", "الأمم", "المتحدة", "واشنطن", "موسكو", "طهران",
           "القاهرة", "بغداد", "دمشق", "بيروت", "الرياض", "تقرير", "مصادر", "مسؤول", "بيان",
           "يؤكد", "يعلن", "ينفي", "يبحث", "تصعيد", "جديد", "الأسبوع", "المقبل", "اليوم"),
    "en": ("government", "president", "minister", "foreign", "council", "security", "meeting",
           "summit", "deal", "talks", "economy", "oil", "prices", "central", "bank", "election",
           "parliament", "opposition", "protests", "capital", "army", "attack", "missiles",
           "ceasefire", "aid", "humanitarian", "refugees", "border", "United", "Nations",
           "Washington", "Moscow", "Tehran", "Cairo", "Baghdad", "Damascus", "Beirut", "Riyadh",
           "report", "sources", "official", "statement", "says", "announces", "denies",
           "discusses", "escalation", "new", "next", "week", "today"),
}
LEXICON = 6000  # words per language
ZIPF = 0.7  # the exponent of the words' rank-frequency law
_LABELLED = Path(__file__).resolve().parent.parent / "tests/data/stories_eval.jsonl"
_LETTERS = {"ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "en": "bcdfghklmnprstvwz"}
# Words of the benchmark's one topic, so that tagging and publishing have work to do.
TOPIC_TERMS = {"ar": ("أوكرانيا", "كييف", "زيلينسكي"), "en": ("Ukraine", "Kyiv", "Zelensky")}


@dataclass(frozen=True)
class Item:
    """One feed item as the generator wrote it."""

    guid: str  # guid / atom:id / rdf:about
    link: str  # absolute article URL
    title: str  # plain text
    summary: str  # HTML
    content: str  # HTML, "" when the item has none
    published: datetime  # UTC
    author: str  # plain text


@dataclass(frozen=True)
class Feed:
    """One generated feed."""

    id: str  # feed-000 …
    format: str  # rss2, atom or rss1
    language: str  # ar or en
    title: str
    site: str  # the outlet's home page
    items: tuple[Item, ...]  # newest first

    @property
    def path(self) -> str:
        return f"/{self.id}{SUFFIX[self.format]}"


class _Lexicon:
    """One language's words, most frequent first, with Zipf weights (rank r: 1 / r^ZIPF)."""

    def __init__(self, rng: random.Random, language: str, labelled: list[str]) -> None:
        words = list(dict.fromkeys([*_WORDS[language], *labelled]))
        while len(words) < LEXICON:
            words.append(_made_up(rng, language))
        self.words = words[:LEXICON]
        self.weights = list(itertools.accumulate(rank ** -ZIPF for rank in range(1, LEXICON + 1)))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.weights, k=k)


def _labelled_words() -> dict[str, list[str]]:
    """The labelled set's words per language, most frequent first (none without the file)."""
    counts: dict[str, Counter[str]] = {language: Counter() for language in _WORDS}
    if _LABELLED.exists():
        for line in _LABELLED.open(encoding="utf-8"):
            row = json.loads(line)
            if row["language"] in counts:
                counts[row["language"]].update(
                    w for w in re.findall(r"\w+", f"{row['title']} {row['summary']}")
                    if not any(c.isdigit() for c in w))
    return {language: [w for w, _ in c.most_common()] for language, c in counts.items()}


def _made_up(rng: random.Random, language: str) -> str:
    letters = _LETTERS[language]
    if language == "ar":
        return "".join(rng.choice(letters) for _ in range(rng.randint(3, 7)))
    return "".join(rng.choice(letters) + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))


_LEXICONS: dict[str, _Lexicon] = {}  # built by generate(), the same for every seed


def generate(count: int, seed: int = 1) -> list[Feed]:
    """`count` feeds of 20–60 items, about DUPLICATE_SHARE of them copied across feeds."""
    if not _LEXICONS:
        labelled, rng = _labelled_words(), random.Random(0)
        _LEXICONS.update({lang: _Lexicon(rng, lang, labelled[lang]) for lang in _WORDS})
    rng = random.Random(seed)
    feeds = [_feed(rng, i) for i in range(count)]
    # Choose the slots to overwrite first, so that every copied item stays in its own feed.
    slots = {f.id: set(rng.sample(range(len(f.items)), round(len(f.items) * DUPLICATE_SHARE)))
             if count > 1 else set() for f in feeds}
    originals = {lang: [(f.id, item) for f in feeds if f.language == lang
                        for n, item in enumerate(f.items) if n not in slots[f.id]]
                 for lang in _WORDS}
    out = []
    for feed in feeds:
        items = list(feed.items)
        taken = {item.link for item in items}
        for slot in sorted(slots[feed.id]):
            for _ in range(1000):  # an item of another feed in the same language, not here yet
                owner, other = rng.choice(originals[feed.language])
                if owner != feed.id and other.link not in taken:
                    break
            else:
                continue  # a tiny corpus with no such item left: keep this feed's own item
            taken.add(other.link)
            # Another outlet carrying the same story: same title, link and text; its own
            # guid (the link, as most RSS feeds do) and its own date.
            items[slot] = replace(other, guid=other.link, published=items[slot].published)
        out.append(replace(feed, items=tuple(items)))
    return out


def _feed(rng: random.Random, index: int) -> Feed:
    fmt = rng.choices(FORMATS, FORMAT_WEIGHTS)[0]
    lang = rng.choice(("ar", "en"))
    fid = f"feed-{index:03d}"
    site = f"https://outlet{index:03d}.example/"
    title = (f"أخبار المنفذ {index}" if lang == "ar" else f"Outlet {index} News")
    when = ANCHOR - timedelta(minutes=rng.randint(0, 120))
    items = []
    for n in range(rng.randint(20, 60)):
        when -= timedelta(minutes=rng.randint(5, 90))
        link = f"{site}{lang}/news/{when:%Y/%m/%d}/story-{index:03d}-{n:03d}.html"
        items.append(Item(
            guid=f"urn:outlet{index:03d}:{n}", link=link, title=_sentence(rng, lang, 6, 11),
            summary=_summary(rng, lang, link), content=_content(rng, lang) if
            fmt != "rss1" and rng.random() < 0.5 else "",
            published=when, author=_sentence(rng, lang, 2, 3)))
    return Feed(fid, fmt, lang, title, site, tuple(items))


def _sentence(rng: random.Random, lang: str, low: int, high: int) -> str:
    words = _LEXICONS[lang].draw(rng, rng.randint(low, high))
    if rng.random() < 0.2:  # one item in five is about the benchmark's topic
        words.insert(rng.randrange(len(words) + 1), rng.choice(TOPIC_TERMS[lang]))
    text = " ".join(words)
    return text[0].upper() + text[1:] if lang == "en" else text


def _summary(rng: random.Random, lang: str, link: str) -> str:
    sentences = ". ".join(_sentence(rng, lang, 8, 16) for _ in range(rng.randint(2, 4)))
    html = f"<p>{sentences}.</p>"
    if rng.random() < 0.3:
        html += f'<p><img src="/img/{rng.randrange(10**6)}.jpg" alt=""></p>'
    if rng.random() < 0.3:
        html += f'<p><a href="{link}?utm_source=rss">{_sentence(rng, lang, 2, 4)}</a></p>'
    return html


def _content(rng: random.Random, lang: str) -> str:
    return "".join(f"<p>{_sentence(rng, lang, 12, 24)}. {_sentence(rng, lang, 12, 24)}.</p>"
                   for _ in range(rng.randint(3, 6)))


# --- rendering ---------------------------------------------------------------------------------

def render(feed: Feed) -> bytes:
    """The feed document, UTF-8 XML."""
    return {"rss2": _rss2, "atom": _atom, "rss1": _rss1}[feed.format](feed).encode("utf-8")


def _rss2(feed: Feed) -> str:
    items = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f'<guid isPermaLink="{str(i.guid == i.link).lower()}">{escape(i.guid)}</guid>'
        f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
        f"<dc:creator>{escape(i.author)}</dc:creator>"
        f"<description>{escape(i.summary)}</description>"
        + (f"<content:encoded><![CDATA[{i.content}]]></content:encoded>" if i.content else "")
        + "</item>\n" for i in feed.items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(feed.title)}</title><link>{feed.site}</link>"
            f"<description>{escape(feed.title)}</description><language>{feed.language}"
            f"</language><ttl>15</ttl>"
            f"<lastBuildDate>{format_datetime(ANCHOR, usegmt=True)}</lastBuildDate>\n"
            f"{items}</channel></rss>\n")


def _atom(feed: Feed) -> str:
    entries = "".join(
        f"<entry><title>{escape(i.title)}</title>"
        f'<link rel="alternate" type="text/html" href="{escape(i.link)}"/>'
        f"<id>{escape(i.guid)}</id><published>{i.published.isoformat()}</published>"
        f"<updated>{i.published.isoformat()}</updated>"
        f"<author><name>{escape(i.author)}</name></author>"
        f'<summary type="html">{escape(i.summary)}</summary>'
        + (f'<content type="html">{escape(i.content)}</content>' if i.content else "")
        + "</entry>\n" for i in feed.items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.language}">'
            f"<title>{escape(feed.title)}</title><id>{feed.site}</id>"
            f'<link rel="alternate" href="{feed.site}"/>'
            f"<updated>{ANCHOR.isoformat()}</updated>\n{entries}</feed>\n")


def _rss1(feed: Feed) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{escape(i.link)}"/>' for i in feed.items)
    items = "".join(
        f'<item rdf:about="{escape(i.link)}"><title>{escape(i.title)}</title>'
        f"<link>{escape(i.link)}</link><dc:date>{i.published.isoformat()}</dc:date>"
        f"<dc:creator>{escape(i.author)}</dc:creator>"
        f"<description>{escape(i.summary)}</description></item>\n" for i in feed.items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{feed.site}"><title>{escape(feed.title)}</title>'
            f"<link>{feed.site}</link><description>{escape(feed.title)}</description>"
            f"<dc:language>{feed.language}</dc:language>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n{items}</rdf:RDF>\n")


def write(feeds: list[Feed], folder: Path) -> dict[str, object]:
    """Write every feed and an index.json (path -> content type) that the server reads."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    size = 0
    for feed in feeds:
        body = render(feed)
        (folder / feed.path.lstrip("/")).write_bytes(body)
        index[feed.path] = CONTENT_TYPE[feed.format]
        size += len(body)
    (folder / "index.json").write_text(json.dumps(index, indent=0), encoding="utf-8")
    items = [item for feed in feeds for item in feed.items]
    links = [item.link for item in items]
    return {
        "feeds": len(feeds), "items": len(items), "bytes": size,
        "formats": {f: sum(feed.format == f for feed in feeds) for f in FORMATS},
        "languages": {lang: sum(feed.language == lang for feed in feeds) for lang in _WORDS},
        "items_shared_across_feeds": len(links) - len(set(links)),
    }

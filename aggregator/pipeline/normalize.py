"""The normalize stage: ParsedFeed -> Entry records that are clean, absolute and dated in UTC.

Pure: the clock comes in as `now`. Identity and topics are left to the dedupe and tag
stages.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Collection
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from aggregator.models import Entry, ParsedEntry, ParsedFeed
from aggregator.text.arabic import clean_noise, display_view, title_key
from aggregator.text.html import plain_text, sanitize
from aggregator.text.language import detect, primary_code

# Query parameters that only track the click, never select the page (Miniflux's list,
# plus the ones seen in Arabic outlets' feeds).
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "ocid", "cmpid", "ns_mchannel", "ns_source",
    "ns_campaign", "ns_linkname", "ns_fee", "at_medium", "at_campaign", "at_custom1",
    "at_custom2", "at_custom3", "at_custom4", "ito", "xtor", "ref_src", "ref_url", "s_cid",
    "rss", "feed_id", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "__twitter_impression",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize(feed: ParsedFeed, *, source_id: str, source_language: str | None,
              now: datetime, languages: Collection[str] = ()) -> tuple[Entry, ...]:
    """Clean every entry of one fetched feed; `languages` (the configured ones) bound the
    detection of an item whose language nobody declares."""
    return tuple(normalize_entry(e, feed=feed, source_id=source_id,
                                 source_language=source_language, now=now, languages=languages)
                 for e in feed.entries)


def normalize_entry(e: ParsedEntry, *, feed: ParsedFeed, source_id: str,
                    source_language: str | None, now: datetime,
                    languages: Collection[str] = ()) -> Entry:
    base = feed.base_url
    link = absolute_url(e.link, base)
    title = clean_noise(display_view(plain_text(e.title) if "<" in e.title
                                     else html.unescape(e.title)))
    summary = sanitize(e.summary_html, link or base)
    content = sanitize(e.content_html, link or base)
    if content == summary:  # RSS feeds often repeat the description as content
        content = ""
    published = min(e.published or e.updated or now, now)
    updated = min(max(e.updated or published, published), now)
    text = clean_noise(display_view(f"{title} {plain_text(summary or content)}"))
    return Entry(
        source_id=source_id,
        guid=e.guid,
        link=link,
        canonical_link=canonical_url(link) if link else None,
        title=title,
        summary_html=summary,
        content_html=content,
        text=text,
        title_key=title_key(title),
        author=e.author,
        language=(primary_code(e.language or feed.language or source_language)
                  or detect(text, languages)),
        published=published,
        updated=updated,
        content_hash=content_hash(title, link, summary, content),
        image=absolute_url(e.image, link or base),
        text_key=title_key(text),
    )


def absolute_url(url: str | None, base: str) -> str | None:
    """Resolve against the base; keep only http(s) results."""
    if not url:
        return None
    resolved = urljoin(base, url.strip())
    return resolved if resolved.startswith(("http://", "https://")) else None


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port, fragment and tracking parameters removed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() not in TRACKING_PARAMS and not k.lower().startswith("utm_")])
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def content_hash(*parts: str | None) -> str:
    """What a reader sees, hashed: a change here is a real update of the item."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8"))
    return digest.hexdigest()[:32]

"""Plain frozen records passed between the pipeline stages, named by their place in the flow.

    SourceState ─► fetch ─► FetchResult ─► parse ─► ParsedFeed(ParsedEntry…)
        ─► normalize ─► Entry… ─► dedupe (identity) ─► tag (topics) ─► store ─► PollOutcome

Nothing here touches the network, the database or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Outcome = Literal["new", "updated", "unchanged", "not_modified", "error"]


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the poller remembers about a source between polls (a row of the sources table)."""

    source_id: str  # the id from feeds.yaml
    url: str  # the URL to request now (the config URL, or a confirmed permanent redirect)
    etag: str | None = None  # ETag of the last 200 response, for If-None-Match
    last_modified: str | None = None  # Last-Modified of the last 200, for If-Modified-Since
    body_hash: str | None = None  # sha256 of the last body parsed, to skip unchanged bodies
    consecutive_errors: int = 0  # failed polls in a row, for the backoff


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The answer to one conditional GET, already limited in size and time."""

    source_id: str  # which source this answers
    url: str  # the URL requested
    final_url: str  # where the redirects (if any) ended
    status: int  # HTTP status of the final response
    body: bytes | None  # the body (decoded unless `encoding` says otherwise); None on 304
    etag: str | None = None  # ETag header of this response
    last_modified: str | None = None  # Last-Modified header of this response
    content_type: str | None = None  # Content-Type header, charset included
    permanent_redirect: str | None = None  # target when every hop was 301/308
    cache_control: str | None = None  # Cache-Control header (max-age feeds scheduling)
    expires: str | None = None  # Expires header
    body_hash: str | None = None  # sha256 hex of the decoded body; None until it is decoded
    # the Content-Encoding (gzip, deflate) the body still has when the fetcher was asked to
    # leave it (pipeline.fetch.decoded undoes it, under the same cap); None: decoded
    encoding: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the feed states it, before any cleaning."""

    guid: str | None  # guid / atom:id, stripped; None when absent or blank
    link: str | None  # the entry's alternate link as written (maybe relative)
    title: str  # title text (HTML entities decoded, may still carry markup)
    summary_html: str  # description / summary, raw HTML
    content_html: str  # content:encoded / atom:content, raw HTML ("" when absent)
    author: str | None  # author name when given
    language: str | None  # xml:lang / dc:language of the entry
    published: datetime | None  # published date in UTC, when readable
    updated: datetime | None  # updated date in UTC, when readable
    image: str | None = None  # enclosure or media thumbnail URL, when given


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A whole feed document as the parser read it."""

    title: str | None  # the feed's own title
    link: str | None  # the feed's home page link
    language: str | None  # the feed's declared language
    base_url: str  # the URL relative links resolve against
    entries: tuple[ParsedEntry, ...]  # in document order
    ttl_minutes: int | None = None  # RSS <ttl>, when given
    format: str = ""  # e.g. "rss20", "atom10", as feedparser names it


@dataclass(frozen=True, slots=True)
class Entry:
    """One normalized item, ready to be identified, tagged and stored."""

    source_id: str  # which source carried it
    guid: str | None  # guid / atom:id when the feed gave a usable one
    link: str | None  # absolute link as published
    canonical_link: str | None  # link with tracking parameters and fragment removed
    title: str  # clean plain-text title
    summary_html: str  # sanitized HTML summary, safe to republish
    content_html: str  # sanitized HTML content, safe to republish ("" when absent)
    text: str  # plain text of title + summary (display view), for matching
    title_key: str  # matching view of the title: the cross-source title key ("" if none)
    author: str | None  # author name
    language: str | None  # item's language, else the feed's, else the source's
    published: datetime  # UTC; published, else updated, else first seen; never in the future
    updated: datetime  # UTC; the entry's own updated date, else `published`
    content_hash: str  # hash of what a reader sees (title, link, summary, content)
    identity: str = ""  # identity inside the source, set by dedupe
    topics: tuple[str, ...] = ()  # topic ids, set by tag
    image: str | None = None  # absolute image URL, when given
    # title_key() of `text`: normalize works it out (in the parse worker) for the story
    # clusterer, whose word views it holds; not stored, None in entries read back
    text_key: str | None = None


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A poll that changed nothing but the source's polling state."""

    source_id: str
    fetched: FetchResult  # the 304, or the 200 whose body hash matched
    now: datetime  # when it was polled
    next_check_at: datetime
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class Changed:
    """A poll that brought a new body, parsed: what the store writes of it."""

    source_id: str
    fetched: FetchResult  # the 200
    feed: ParsedFeed  # the feed's own fields (title, link, language)
    entries: Sequence[Entry]  # identified and tagged
    now: datetime  # when it was polled
    next_check_at: datetime
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """How one source's poll ended: exactly one outcome and its counts."""

    source_id: str  # which source
    outcome: Outcome  # new / updated / unchanged / not_modified / error
    new: int = 0  # items stored for the first time
    updated: int = 0  # items whose content changed
    seen: int = 0  # entries in the document
    error: str | None = None  # the message, when outcome is "error"
    status: int | None = None  # HTTP status, when a response came
    duration: float = 0.0  # seconds spent on this source
    connection_error: bool = False  # the error was a failure to connect at all
    # False when the error was not the source's fault: our network was down, or its host
    # had told the pass to wait (a 429 to another of its sources)
    counted: bool = True
    extra: dict[str, str] = field(default_factory=dict)  # hints (e.g. moved-to URL)

    def summary(self) -> str:
        """One fixed-format line for logs and `poll` output."""
        if self.outcome == "error":
            return f"{self.source_id}: error: {self.error}"
        if self.outcome in ("new", "updated"):
            return f"{self.source_id}: {self.outcome} ({self.new} new, {self.updated} updated)"
        return f"{self.source_id}: {self.outcome.replace('_', ' ')}"

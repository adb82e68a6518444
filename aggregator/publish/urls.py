"""Where every output lives: its public address (under base_url) and its file (under output_dir).

One table for both, so the publisher, the pages and the web server never disagree. The web
server reaches a file only through these functions, with ids it has checked against the
config, so no part of a request path ever reaches the file system.

    /                                    index.html
    /sections/{id}                       sections/{id}.html
    /feeds/{id}.atom | .rss | .json      {id}.atom | {id}.rss | {id}.json
    /feeds/{id}/archive/{day}.atom       archive/{id}/{day}.atom      (RFC 5005 archives)
    /opml/sources.opml, sections.opml    opml/sources.opml, opml/sections.opml
    /status                              (rendered per request from the database)
"""

from __future__ import annotations

import re
from pathlib import Path

# format -> (file extension, media type). Atom first: it is the canonical document.
FORMATS = {
    "atom": ("atom", "application/atom+xml"),
    "rss": ("rss", "application/rss+xml"),
    "json": ("json", "application/feed+json"),
}
OPML_NAMES = ("sources", "sections")
OPML_TYPE = "text/x-opml"
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # an archive's UTC day, 2026-11-24


def feed_url(base_url: str, section_id: str, fmt: str = "atom") -> str:
    return f"{base_url}feeds/{section_id}.{FORMATS[fmt][0]}"


def archive_url(base_url: str, section_id: str, day: str) -> str:
    return f"{base_url}feeds/{section_id}/archive/{day}.atom"


def section_url(base_url: str, section_id: str) -> str:
    return f"{base_url}sections/{section_id}"


def opml_url(base_url: str, name: str) -> str:
    return f"{base_url}opml/{name}.opml"


def feed_file(output_dir: Path, section_id: str, fmt: str = "atom") -> Path:
    return output_dir / f"{section_id}.{FORMATS[fmt][0]}"


def archive_dir(output_dir: Path, section_id: str) -> Path:
    return output_dir / "archive" / section_id


def archive_file(output_dir: Path, section_id: str, day: str) -> Path:
    return archive_dir(output_dir, section_id) / f"{day}.atom"


def section_file(output_dir: Path, section_id: str) -> Path:
    return output_dir / "sections" / f"{section_id}.html"


def index_file(output_dir: Path) -> Path:
    return output_dir / "index.html"


def opml_file(output_dir: Path, name: str) -> Path:
    return output_dir / "opml" / f"{name}.opml"

"""The web site's HTML pages, rendered with Jinja2 (imported only here) from view models
(aggregator.site.views). Autoescaping is on for every template: every string that came from a
feed, the config or the database is escaped; nothing is marked safe.

Pages carry no script and load nothing from elsewhere: the CSS is inline and readable
without it. Times are absolute UTC, never "5 minutes ago", so the same data gives the same
bytes (and the same ETag) on every node.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from aggregator import __version__

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.globals["version"] = __version__
    return env


def when(moment: datetime | None) -> str:
    """How a time is shown: 2026-11-24 09:30 UTC."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def render(template: str, **context: Any) -> str:
    """One page; `root` is the relative path from the page back to the site's root."""
    return _environment().get_template(template).render(**context)


def index_page(sections: Any, *, opml: bool = True) -> str:
    return render("index.html", root="", sections=sections, opml=opml)


def section_page(section: Any, stories: Any) -> str:
    return render("section.html", root="../", section=section, stories=stories)


def status_page(sources: Any, polls: Any, counts: Any) -> str:
    return render("status.html", root="", sources=sources, polls=polls, counts=counts)

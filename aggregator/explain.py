"""Why an item has the topics it has: reports for operators. Pure: no I/O, no printing.

cli.py wires them: `aggregator explain --text TEXT` → explain_text, `aggregator explain ITEM_ID`
→ explain_entry on the stored entry, `aggregator retag` → retag (then stores each change) and
retag_summary. The verdicts come from TopicMatcher.matches, which agrees with topics_for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from aggregator.models import Entry
from aggregator.pipeline.tag import Match, TopicMatcher
from aggregator.text.arabic import matching_view

_POSITIVE = ("terms", "case_sensitive", "regex")
_LISTED = 4  # `with` terms named in a verdict before "…"


def explain_text(text: str, matcher: TopicMatcher) -> str:
    """The matching view of the text, then each topic that any term touched: its verdict
    (yes, or which exclude/with rule said no) and every occurrence, with its place."""
    view = matching_view(text)
    lines = [f"matching view: {view}" if view else "matching view: (empty)"]
    found = matcher.matches(text)
    for topic, matches in found.items():
        lines.append(f"{topic}: {_verdict(matcher, topic, matches)}")
        lines.extend(f"  {m.rule:<14} {m.term!r} found «{m.found}» at {m.start}-{m.end}"
                     for m in matches)
    given = matcher.topics_for(text)
    if not found:
        lines.append(f"no term of the {len(matcher.topics)} topics occurs")
    lines.append(f"topics: {', '.join(given) if given else '(none)'}")
    return "\n".join(lines)


def explain_entry(entry: Entry, matcher: TopicMatcher) -> str:
    """explain_text for a stored entry, after who published it and the topics it has now."""
    now = matcher.topics_for(entry.text)
    head = [f"{entry.source_id} {entry.identity or entry.guid or ''}".rstrip(),
            f"title: {entry.title}",
            f"language: {entry.language or '(unknown)'}",
            f"stored topics: {', '.join(entry.topics) if entry.topics else '(none)'}"]
    if set(now) != set(entry.topics):  # the store keeps topics sorted, not in config order
        head.append(f"the current configuration changes them: {_diff(entry.topics, now)}")
    return "\n".join(head) + "\n" + explain_text(entry.text, matcher)


@dataclass(frozen=True, slots=True)
class Retagged:
    """An entry whose topics the current configuration changes."""

    entry: Entry  # as stored, with its old topics
    topics: tuple[str, ...]  # the topics it gets now, in configuration order

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(t for t in self.topics if t not in self.entry.topics)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(t for t in self.entry.topics if t not in self.topics)


def retag(entries: Iterable[Entry], matcher: TopicMatcher) -> tuple[Retagged, ...]:
    """The entries whose topics change under this matcher (the others are left out)."""
    changes = (Retagged(e, matcher.topics_for(e.text)) for e in entries)
    return tuple(c for c in changes if set(c.topics) != set(c.entry.topics))


def retag_summary(changes: Iterable[Retagged]) -> str:
    """One line: how many entries change, and each topic's gains and losses."""
    changes = tuple(changes)
    if not changes:
        return "no entry changes topics"
    added = Counter(t for c in changes for t in c.added)
    removed = Counter(t for c in changes for t in c.removed)
    parts = [f"+{t} {n}" for t, n in sorted(added.items())]
    parts += [f"-{t} {n}" for t, n in sorted(removed.items())]
    return f"{len(changes)} entries change topics: {', '.join(parts)}"


def _verdict(matcher: TopicMatcher, topic: str, matches: list[Match]) -> str:
    config = next(t for t in matcher.topics if t.id == topic)
    excluded = [m for m in matches if m.rule == "exclude"]
    if not any(m.rule in _POSITIVE for m in matches):
        return "no: none of its terms occurs (only " + ", ".join(
            sorted({f"{m.rule} {m.term!r}" for m in matches})) + ")"
    if excluded:
        return f"no: vetoed by exclude {excluded[0].term!r}"
    if config.with_terms and not any(m.rule == "with" for m in matches):
        names = ", ".join(repr(t) for t in config.with_terms[:_LISTED])
        more = ", …" if len(config.with_terms) > _LISTED else ""
        return f"no: none of its `with` terms occurs ({names}{more})"
    return "yes"


def _diff(old: tuple[str, ...], new: tuple[str, ...]) -> str:
    return " ".join([f"+{t}" for t in new if t not in old] + [f"-{t}" for t in old if t not in new])

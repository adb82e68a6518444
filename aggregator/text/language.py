"""Offline language detection for items that declare no language; py3langid is used only here.

    detect(text, candidates)  the item's ISO 639-1 code ("ar", "en", "fr", "ru", "fa", ...) or None
    primary_code(code)        a declared code's primary language: "ar-EG", "arz", "ara" -> "ar"

Script first, because it is fast and exact for our languages: Arabic script is Arabic unless
Persian or Urdu could be meant (then, and for Latin and other scripts, py3langid's model decides
among the candidates that script can write); Cyrillic is Russian when that is the only Cyrillic
candidate. py3langid ships its 4.5 MB model and needs only numpy: nothing is downloaded.
Run on the display view (NFKC), never on the matching view: accuracy drops there (DESIGN.md).

Memory: py3langid's own LanguageIdentifier holds 73 MiB (103 MiB at its peak while loading),
plus a copy of the weight columns per restriction (21 MiB for every Latin-script language).
We read the same model file and score exactly as it does (tests/test_language.py compares the
scores bit for bit), keeping its byte automaton with one column per class of equivalent bytes
(197 of 256: 29 MiB) and only the weight columns the candidates can need (6 of 142 for
ar/en/fr/ru: 1 MiB; all of them, 27 MiB, when no candidate is given), each array read a block
at a time so that no second copy is ever made: 36 MiB in all for ar/en/fr/ru, 63 MiB for all.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import tempfile
import threading
import unicodedata
import zipfile
from array import array
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any

from aggregator.text.arabic import display_view

__all__ = ["detect", "primary_code"]

# ISO 639-3 members of the Arabic macrolanguage (py3langid answers ary/arz), and the 639-2/3
# and legacy codes of the languages feeds declare, mapped to ISO 639-1.
_ARABIC_VARIETIES = ("aao abh abv acm acq acw acx acy adf aeb aec afb ajp apc apd arb arq ars "
                     "ary arz auz avl ayh ayl ayn ayp bbz pga shu ssh ara")
_ALIASES = {**dict.fromkeys(_ARABIC_VARIETIES.split(), "ar"),
            "pes": "fa", "prs": "fa", "fas": "fa", "per": "fa", "urd": "ur", "eng": "en",
            "fra": "fr", "fre": "fr", "rus": "ru", "ukr": "uk", "heb": "he", "iw": "he",
            "tur": "tr", "deu": "de", "ger": "de", "spa": "es", "ita": "it", "zho": "zh",
            "chi": "zh", "cmn": "zh", "in": "id", "ji": "yi"}

# py3langid labels by script. Arabic script: letters Persian/Urdu write and Arabic does not
# (پ چ ژ گ ک ی ۀ ٹ ڈ ڑ ں ے ھ); without them an Arabic-script text is read as Arabic.
_ARABIC_SCRIPT = frozenset({"ar", "ary", "arz", "fa", "ur", "ps", "ug", "sdh"})
_NOT_ARABIC = re.compile("[\u067e\u0686\u0698\u06af\u06a9\u06cc\u06c0\u0679\u0688\u0691"
                         "\u06ba\u06d2\u06be]")
_CYRILLIC_SCRIPT = frozenset({"ru", "uk", "bg", "be", "mk", "sr", "kk", "ky", "mn", "tg",
                              "tt", "ba"})
_OTHER_SCRIPTS = frozenset({"am", "as", "bn", "dz", "el", "grc", "gu", "hbo", "he", "hi",
                            "hy", "ja", "ka", "km", "kn", "ko", "lo", "ml", "mr", "my", "ne",
                            "or", "pa", "sa", "si", "ta", "te", "th", "wuu", "yue", "zh"})
_NON_LATIN = _ARABIC_SCRIPT | _CYRILLIC_SCRIPT | _OTHER_SCRIPTS
_DIALECTS = frozenset({"ary", "arz"})  # what py3langid answers for much Arabic: read as "ar"
_MAX_CHARS = 400  # enough to decide; py3langid walks the UTF-8 bytes in Python, ~1 µs a byte


def _byte_classes() -> bytes:
    """UTF-8 byte -> script class: counting lead bytes is ~20x faster than a regex over
    Arabic letters (findall costs ~200 ns a match). a: Arabic (U+0600-06FF, 0740-077F),
    c: Cyrillic (U+0400-04FF), l: Latin (ASCII letters, U+00C0-024F), o: other scripts'
    letters (Greek, Armenian, Hebrew, Indic, CJK, ...), '.': the rest (digits, punctuation,
    spaces, continuation bytes, U+2000-2FFF symbols)."""
    table = bytearray(b"." * 256)
    for lead in (*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1),
                 *range(0xC3, 0xCA)):
        table[lead] = ord("l")
    for lead in range(0xD0, 0xD4):
        table[lead] = ord("c")
    for lead in (0xD8, 0xD9, 0xDA, 0xDB, 0xDD):
        table[lead] = ord("a")
    for lead in (0xCD, 0xCE, 0xCF, 0xD4, 0xD5, 0xD6, 0xD7, 0xDC, 0xDE, 0xDF, 0xE0, 0xE1,
                 *range(0xE3, 0xEE)):
        table[lead] = ord("o")
    return bytes(table)


_CLASSES = _byte_classes()
_SCRIPTS = {"arabic": b"a", "cyrillic": b"c", "latin": b"l", "other": b"o"}


def primary_code(code: str | None) -> str | None:
    """'ar-EG' -> 'ar', 'arz' -> 'ar', 'FRA' -> 'fr'; None when it is not a language code."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    if not (primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3):
        return None
    return _ALIASES.get(primary, primary)


def detect(text: str, candidates: Collection[str] = ()) -> str | None:
    """The language of text, one of candidates when some are given; None when text has no
    letters, or its script fits none of the candidates."""
    text = display_view(text[:_MAX_CHARS])
    wanted = frozenset(c for c in map(primary_code, candidates) if c)
    script = _script(text)
    if script is None:
        return None
    if script == "arabic":
        pool = wanted & _ARABIC_SCRIPT if wanted else _ARABIC_SCRIPT
        if pool - {"ar"} and _NOT_ARABIC.search(text) is not None:
            return _classify(text, pool | (_DIALECTS if "ar" in pool else set()), wanted)
        return "ar" if "ar" in pool else None
    if script == "cyrillic":
        pool = wanted & _CYRILLIC_SCRIPT if wanted else _CYRILLIC_SCRIPT
    elif script == "latin":
        pool = wanted - _NON_LATIN if wanted else _model(wanted).labels - _NON_LATIN
    else:
        pool = wanted & _OTHER_SCRIPTS if wanted else _OTHER_SCRIPTS
    if len(pool) <= 1:
        return next(iter(pool), None)
    return _classify(text, pool, wanted)


def _script(text: str) -> str | None:
    """The script most of the letters are written in, or None when there are no letters."""
    classes = text.encode("utf-8", "replace").translate(_CLASSES)
    count, script = max((classes.count(c), name) for name, c in _SCRIPTS.items())
    return script if count else None


def _classify(text: str, pool: frozenset[str] | set[str],
              wanted: frozenset[str]) -> str | None:
    """The best of pool for text, as py3langid's classify() answers once restricted to pool
    (set_languages)."""
    model = _model(wanted)
    scorer = model.scorer(frozenset(pool))
    if scorer is None:
        return None
    return primary_code(scorer.classes[int(scorer.scores(model, _encode(text)).argmax())])


def _encode(text: str) -> bytes:
    """The bytes py3langid walks: an all-capitals text lower-cased, NFC, UTF-8."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf-8", errors="surrogatepass")


@dataclass(frozen=True, slots=True)
class _Scorer:
    """py3langid's classes kept for one pool of labels (in its order), and their weights."""

    classes: tuple[str, ...]  # their labels: "sr" and "uz" appear twice (two scripts each)
    aliases: tuple[tuple[int, int], ...]  # (first, repeat) positions of a repeated label
    columns: Any  # numpy intp: their columns in the model's weights
    pc: Any  # numpy float32: their log priors

    def scores(self, model: _Model, data: bytes) -> Any:
        """py3langid's raw scores (a repeated label scored once, the other copy floored): the
        same floats as LanguageIdentifier._decide, since numpy is given the same arrays (the
        rows of the features found, in order of first occurrence, and these columns)."""
        import numpy as np

        found = model.automaton.features(data)
        if not found:
            scores = np.full(len(self.classes), model.floor, dtype=np.float32)
        else:
            rows = np.fromiter(found, dtype=np.intp, count=len(found))
            table = np.ascontiguousarray(model.weights[rows[:, None], self.columns])
            counts = np.fromiter(found.values(), dtype=np.float32, count=len(found))
            scores = np.log1p(counts) @ table + self.pc
        for first, repeat in self.aliases:
            scores[first] = max(scores[first], scores[repeat])
            scores[repeat] = model.floor
        return scores


@dataclass(frozen=True, slots=True)
class _Automaton:
    """py3langid's byte automaton: each byte moves to a state, a state may count a feature.
    Byte values that move every state alike share one column (bytes.translate maps them)."""

    column_of: bytes  # byte value -> its column
    nextmove: array  # next state, at row_start[state] + column
    row_start: array  # state -> first entry of its row in nextmove
    feature: array  # state -> the feature it counts, or -1

    def features(self, data: bytes) -> Counter[int]:
        """How often each feature occurs in data, in order of first occurrence."""
        nextmove, row_start, feature = self.nextmove, self.row_start, self.feature
        state, found = 0, []
        for column in data.translate(self.column_of):
            state = nextmove[row_start[state] + column]
            if feature[state] >= 0:
                found.append(feature[state])
        return Counter(found)


@dataclass(frozen=True, slots=True)
class _Model:
    classes: tuple[str, ...]  # py3langid's classes, in its column order
    labels: frozenset[str]  # the distinct ones it may answer, "zxx" (no language) left out
    pc: Any  # numpy float32 (classes,): log prior of each class
    floor: float  # the score of every class for a text without any feature
    automaton: _Automaton
    weights: Any  # numpy float16 (features, len(kept)): some columns of py3langid's table
    kept: dict[int, int] = field(default_factory=dict)  # class -> its column in weights
    _scorers: dict[frozenset[str], _Scorer | None] = field(default_factory=dict)
    _covered: dict[frozenset[str], bool] = field(default_factory=dict)

    def covers(self, wanted: frozenset[str]) -> bool:
        """Whether the weights hold every class a pool of these candidates can hold."""
        covered = self._covered.get(wanted)
        if covered is None:
            covered = self._covered[wanted] = _columns(self.classes, wanted) <= self.kept.keys()
        return covered

    def scorer(self, labels: frozenset[str]) -> _Scorer | None:
        """The scorer of a pool (whose classes the weights hold), None when none is known."""
        if labels not in self._scorers:
            self._scorers[labels] = self._new_scorer(labels & self.labels)
        return self._scorers[labels]

    def _new_scorer(self, labels: frozenset[str]) -> _Scorer | None:
        import numpy as np

        indices = [i for i, c in enumerate(self.classes) if c in labels]
        if not indices:
            return None
        classes = tuple(self.classes[i] for i in indices)
        first: dict[str, int] = {}
        aliases = []
        for position, label in enumerate(classes):
            if label in first:
                aliases.append((first[label], position))
            else:
                first[label] = position
        return _Scorer(classes, tuple(aliases),
                       np.array([self.kept[i] for i in indices], dtype=np.intp), self.pc[indices])


_LOCK = threading.Lock()
_LOADED: list[_Model] = []  # read on first use (1-3 s: the model file is xz-compressed)


def _model(wanted: frozenset[str]) -> _Model:
    """The model, with the weights of every class a text may be given when the candidates are
    `wanted` (in a poller: the configured languages), of all classes when none is. The weights
    only grow, so each column is read from the file once."""
    if _LOADED and _LOADED[0].covers(wanted):
        return _LOADED[0]
    with _LOCK:
        model = _LOADED[0] if _LOADED else None
        if model is not None and model.covers(wanted):
            return model
        with _ModelFile() as file:
            if model is None:
                model = _read_model(file)
            columns = sorted(_columns(model.classes, wanted) | model.kept.keys())
            model = replace(model, weights=_read_weights(file, columns),
                            kept={c: i for i, c in enumerate(columns)}, _scorers={},
                            _covered={})
        _LOADED[:] = [model]
        return model


def _columns(classes: tuple[str, ...], wanted: frozenset[str]) -> set[int]:
    """The classes that detect's pools can hold for these candidates: all when none is."""
    if not wanted:
        return set(range(len(classes)))
    labels = wanted | _DIALECTS if "ar" in wanted else wanted
    return {i for i, c in enumerate(classes) if c in labels}


class _ModelFile:
    """py3langid's model file (an .npz inside xz) uncompressed into a temporary file, so that
    its arrays can be read a block of rows at a time: never two copies of a big one."""

    def __enter__(self) -> _ModelFile:
        from py3langid.langid import MODEL_DIR, MODEL_FILE

        self._tmp = tempfile.TemporaryFile(suffix=".npz")
        with lzma.open(MODEL_DIR / MODEL_FILE) as src:
            shutil.copyfileobj(src, self._tmp, length=1 << 20)
        self._zip = zipfile.ZipFile(self._tmp)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._zip.close()
        self._tmp.close()

    def array(self, name: str) -> Any:
        """A small array, whole."""
        import numpy as np

        with self._zip.open(f"{name}.npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)

    def shape(self, name: str) -> tuple[int, ...]:
        with self._zip.open(f"{name}.npy") as f:
            return _header(f)[0]

    def blocks(self, name: str, width: int, rows: int = 1024) -> Iterator[tuple[int, Any]]:
        """(first row, rows) of the array `name` seen as rows of `width` items."""
        import numpy as np

        with self._zip.open(f"{name}.npy") as f:
            shape, dtype = _header(f)
            total = int(np.prod(shape)) // width
            for start in range(0, total, rows):
                count = min(rows, total - start)
                data = f.read(count * width * dtype.itemsize)
                yield start, np.frombuffer(data, dtype=dtype).reshape(count, width)


def _header(f: IO[bytes]) -> tuple[tuple[int, ...], Any]:
    import numpy as np

    version = np.lib.format.read_magic(f)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, fortran_order, dtype = read(f)
    if fortran_order:
        raise ValueError("py3langid model: unexpected Fortran-ordered array")
    return shape, dtype


def _read_model(file: _ModelFile) -> _Model:
    import numpy as np

    classes = tuple(str(c) for c in file.array("classes").tolist())
    return _Model(classes=classes, labels=frozenset(classes) - {"zxx"}, pc=file.array("pc"),
                  floor=float(np.finfo(np.float32).min),  # py3langid's RAW_FLOOR
                  automaton=_read_automaton(file), weights=None)


def _read_automaton(file: _ModelFile) -> _Automaton:
    """The transition table with equivalent bytes merged: two passes over the 256 columns,
    one to find which are identical in every row, one to keep one of each."""
    import numpy as np

    digests = [hashlib.blake2b(digest_size=16) for _ in range(256)]
    for _, block in file.blocks("nextmove", 256):
        for digest, column in zip(digests, np.ascontiguousarray(block.T), strict=True):
            digest.update(column.tobytes())
    first: dict[bytes, int] = {}
    column_of = bytearray(256)
    for byte, digest in enumerate(digests):
        column_of[byte] = first.setdefault(digest.digest(), len(first))
    kept = [list(column_of).index(c) for c in range(len(first))]  # a byte of each column
    rows = file.shape("nextmove")[0] // 256
    nextmove = array("I", [0]) * (rows * len(kept))  # one allocation, filled block by block
    view = memoryview(nextmove)
    for start, block in file.blocks("nextmove", 256):
        merged = block[:, kept]
        if not np.array_equal(merged[:, list(column_of)], block):  # never trust a digest alone
            raise ValueError("py3langid model: byte columns merged wrongly")
        view[start * len(kept):(start + len(block)) * len(kept)] = \
            array("I", merged.astype(np.uint32).tobytes())
    row_start, feature = array("I"), array("i")
    row_start.frombytes((file.array("nextmove_row").astype(np.uint32)
                         * np.uint32(len(kept))).tobytes())
    feature.frombytes(file.array("out_feat").astype(np.int32).tobytes())
    return _Automaton(bytes(column_of), nextmove, row_start, feature)


def _read_weights(file: _ModelFile, columns: list[int]) -> Any:
    """Only these columns (ascending) of the (features, classes) float16 table."""
    import numpy as np

    features, classes = file.shape("ptc")
    ptc = np.empty((features, len(columns)), dtype=np.float16)
    for start, block in file.blocks("ptc", classes):
        ptc[start:start + len(block)] = block[:, columns]
    return ptc

"""Write published files atomically: a reader never sees half a feed. A file is replaced only
when its bytes change, so an unchanged publish keeps every mtime (and Last-Modified)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` (temporary file + rename); False when it already held it.

    Leaving an identical file alone keeps its mtime, so Last-Modified stays put.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_parts(path: Path, parts: Iterable[bytes]) -> bool:
    """write_atomic for a document rendered in parts, never held whole."""
    with AtomicFile(path) as f:
        for part in parts:
            f.write(part)
    return f.changed


class AtomicFile:
    """A file written in parts, compared with the file it replaces as it goes: the temporary
    file is begun (with the equal start copied) only at the first differing byte, and
    renamed over `path` on a clean exit; an exception leaves `path` as it was."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = False  # known once closed
        self._old: BinaryIO | None = None
        self._same = 0  # bytes written so far, all equal to the old file's
        self._tmp: str | None = None
        self._out: BinaryIO | None = None

    def __enter__(self) -> AtomicFile:
        try:
            self._old = self.path.open("rb")
        except FileNotFoundError:
            self._begin()
        return self

    def write(self, data: bytes) -> None:
        if self._out is None:
            assert self._old is not None
            if self._old.read(len(data)) == data:
                self._same += len(data)
                return
            self._begin()
        assert self._out is not None
        self._out.write(data)

    def _begin(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                         dir=self.path.parent)
        self._out = os.fdopen(fd, "wb")
        if self._old is not None:
            self._old.seek(0)
            left = self._same
            while left:
                chunk = self._old.read(min(left, 1 << 20))
                self._out.write(chunk)
                left -= len(chunk)
            self._old.close()
            self._old = None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if kind is None and self._out is None:
                assert self._old is not None
                if self._old.read(1) == b"":
                    return  # the same bytes: left alone
                self._begin()  # the old file was longer
            if kind is None:
                assert self._out is not None and self._tmp is not None
                self._out.flush()
                os.fsync(self._out.fileno())
                self._out.close()
                os.chmod(self._tmp, 0o644)
                os.replace(self._tmp, self.path)
                self._tmp, self.changed = None, True
        finally:
            if self._old is not None:
                self._old.close()
            if self._out is not None and not self._out.closed:
                self._out.close()
            if self._tmp is not None:
                Path(self._tmp).unlink(missing_ok=True)

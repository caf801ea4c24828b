"""Reading a dataset file once, in bounded memory: fixed-size chunks, hashed as they are read,
split into lines no longer than a maximum (a longer line is skipped up to its end, not buffered)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 8 << 20  # an example at a 65,536-token limit is about 300 KB of JSON; 8 MB leaves room
MAX_FILE_BYTES = 1 << 30  # above this the file is hashed but not parsed (the upload limit is 512 MB)
SNIFF_BYTES = 8192


@dataclass
class Source:
    """A file being read: its size, its running SHA-256 and how far the reader has got."""

    path: str
    total: int
    progress: Callable[[int, int], None] | None = None
    sha: object = field(default_factory=hashlib.sha256)
    read: int = 0

    def chunks(self, handle) -> Iterator[bytes]:
        while chunk := handle.read(CHUNK_BYTES):
            self.sha.update(chunk)
            self.read += len(chunk)
            if self.progress is not None:
                self.progress(self.read, self.total)
            yield chunk


def open_source(path, progress=None) -> Source:
    return Source(path=os.fspath(path), total=os.path.getsize(path), progress=progress)


def sniff(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def drain(source: Source) -> None:
    """Hash the whole file without parsing it (binary, a JSON array, a file over the limit)."""
    with open(source.path, "rb") as handle:
        for _ in source.chunks(handle):
            pass


def lines(source: Source, max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """Yield (line number from 1, the line's bytes without its newline), or (n, None) for a line
    longer than `max_line`, whose bytes are skipped rather than held."""
    number = 0
    pending = bytearray()
    skipping = False
    with open(source.path, "rb") as handle:
        for chunk in source.chunks(handle):
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    if not skipping:
                        pending += chunk[start:]
                        if len(pending) > max_line:
                            skipping = True
                            pending.clear()
                    break
                number += 1
                if skipping:
                    yield number, None
                    skipping = False
                elif pending:
                    pending += chunk[start:end]
                    if len(pending) > max_line:
                        yield number, None
                    else:
                        yield number, bytes(pending)
                    pending.clear()
                else:
                    piece = chunk[start:end]
                    yield number, (piece if len(piece) <= max_line else None)
                start = end + 1
        if skipping:
            yield number + 1, None
        elif pending:
            yield number + 1, bytes(pending)

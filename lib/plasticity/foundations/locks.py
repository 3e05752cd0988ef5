"""An exclusive lock on a file, for the few places several processes write one file
(the figures' manifest, a cache's records of imported packs)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(lock_file: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive POSIX lock on ``lock_file`` (created if needed) while the block
    runs; without POSIX locks (Windows) a single writer is assumed."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(Path(lock_file), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

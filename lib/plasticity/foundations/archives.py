"""One bounded reader for every tar archive the book reads (image-folder data sets,
results packs).

:func:`tar_members` streams a ``.tar``/``.tar.gz``/``.tar.xz``'s plain files one at a
time and refuses, *before* reading what they declare:

- a header record (GNU long name or link, pax header) above ``max_header_bytes``, and
  a chain of more than ``max_header_chain`` such records in a row (tarfile reads each
  chained record by recursion, so a few thousand would end in a ``RecursionError``);
- more than ``max_members`` entries, a member above ``max_member_bytes``, more than
  ``max_total_bytes`` in all;
- a member that is not a plain file or a folder (links, devices), when ``plain_only``.

Memory holds one member at a time (tarfile's list of members read is emptied as it
goes), so it does not grow with the number of members, and time is linear in it.
Messages show a member's name cut to :data:`MAX_SHOWN_NAME` characters.
"""

from __future__ import annotations

import lzma
import os
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Member names are shown in messages up to this many characters.
MAX_SHOWN_NAME = 200

HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)

COMPRESSED_MAGIC = (b"\xfd7zXZ\x00", b"\x1f\x8b", b"BZh")


class ArchiveError(ValueError):
    """An archive that cannot be read within its bounds; the message names the archive
    and, where one is at fault, the member."""


@dataclass(frozen=True)
class Limits:
    """What a reader admits of one archive."""

    max_members: int
    max_member_bytes: int
    max_total_bytes: int
    max_header_bytes: int = 4096
    max_header_chain: int = 4
    #: what kind of archive the messages name ("a CIFAR archive", "a results pack")
    what: str = "an archive"


def shown(name: str) -> str:
    """A member name as a message shows it: at most :data:`MAX_SHOWN_NAME` characters."""
    name = str(name)
    if len(name) <= MAX_SHOWN_NAME:
        return name
    return f"{name[:MAX_SHOWN_NAME]}... ({len(name)} characters)"


def bounded_tarinfo(limits: Limits) -> type[tarfile.TarInfo]:
    """A :class:`tarfile.TarInfo` class that refuses a header record above
    ``limits.max_header_bytes``, or more than ``limits.max_header_chain`` of them in a
    row, before tarfile reads it into memory."""

    class _Bounded(tarfile.TarInfo):
        def _proc_member(self, tarfile_):
            chain = getattr(tarfile_, "_plasticity_chain", 0)
            if self.type in HEADER_TYPES:
                if self.size > limits.max_header_bytes:
                    raise ArchiveError(
                        f"a tar header record (long name or pax header) of {self.size} bytes; "
                        f"{limits.what} has none above {limits.max_header_bytes} bytes"
                    )
                if chain >= limits.max_header_chain:
                    raise ArchiveError(
                        f"more than {limits.max_header_chain} tar header records (long names "
                        f"or pax headers) in a row; {limits.what} has at most a few"
                    )
                tarfile_._plasticity_chain = chain + 1
            else:
                tarfile_._plasticity_chain = 0
            return super()._proc_member(tarfile_)

    return _Bounded


def check_complete(path: Path) -> None:
    """Refuse an uncompressed tar that does not end with its end-of-archive blocks."""
    with open(path, "rb") as f:
        head = f.read(6)
        if head.startswith(COMPRESSED_MAGIC):
            return
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1024))
        if size % 512 or f.read(1024).strip(b"\0"):
            raise ArchiveError(
                f"{path}: the tar archive is truncated (it does not end with the "
                "end-of-archive blocks); download or copy it again"
            )


def tar_members(
    path: str | os.PathLike, limits: Limits, *, plain_only: bool = False
) -> Iterator[tuple[str, bytes]]:
    """Yield (name, bytes) of every plain file of the tar archive ``path``, in order,
    one in memory at a time, within ``limits`` (:class:`ArchiveError` otherwise)."""
    path = Path(path)
    count = total = 0
    last = None
    try:
        check_complete(path)
        with tarfile.open(path, "r:*", tarinfo=bounded_tarinfo(limits)) as tf:
            while (member := tf.next()) is not None:
                tf.members = []  # tarfile keeps every member read; one at a time here
                count += 1  # every entry counts, folders too
                if count > limits.max_members:
                    raise ArchiveError(
                        f"{path}: more than {limits.max_members} entries; {limits.what} has fewer"
                    )
                if member.isdir():
                    continue
                if not member.isfile():
                    if plain_only:
                        raise ArchiveError(
                            f"{path}: member {shown(member.name)} is not a plain file "
                            f"({limits.what} holds plain files only)"
                        )
                    continue
                if member.size > limits.max_member_bytes:
                    raise ArchiveError(
                        f"{path}: member {shown(member.name)} is {member.size} bytes; no "
                        f"file of {limits.what} exceeds {limits.max_member_bytes} bytes"
                    )
                total += member.size
                if total > limits.max_total_bytes:
                    raise ArchiveError(
                        f"{path}: more than {limits.max_total_bytes} bytes in all; "
                        f"{limits.what} holds less"
                    )
                handle = tf.extractfile(member)
                last = member.name
                payload = handle.read(limits.max_member_bytes + 1) if handle else b""
                if len(payload) != member.size:
                    raise ArchiveError(
                        f"{path}: member {shown(member.name)} is shorter than it declares"
                    )
                yield member.name, payload
    except ArchiveError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ArchiveError(f"{path}: {exc}") from None
    except RecursionError:
        raise ArchiveError(f"{path}: tar header records nested too deeply") from None
    except (EOFError, OSError, tarfile.TarError, ValueError, lzma.LZMAError, zlib.error) as exc:
        where = f"after member {shown(last)}" if last else "at its start"
        detail = str(exc)[:300]
        raise ArchiveError(
            f"{path}: the archive is truncated or corrupt {where} ({type(exc).__name__}: "
            f"{detail}); download or copy it again"
        ) from None

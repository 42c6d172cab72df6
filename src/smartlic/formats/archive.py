"""Reading usage and ACK archives (``.tar``, ``.tar.gz``, ``.zip``; nested archives opened,
as in the vendor's bulk layout ``UD_SA_*.tar.gz`` > ``UD_VA_*.tar.gz`` > files), bounded.

A 1.57 MB gzip bomb grew the authority to 1.69 GB when every member was read in memory before
parsing (issue 8, finding 2). Here members are decompressed as a stream and handed out one at a
time, and every decompressed byte is counted against ``ArchiveLimits``: the member count, each
member's size, the total and the compression ratio (decompressed / compressed bytes read so
far, checked past the first MiB: a bomb is refused after ~1 MiB of output, a real usage archive
compresses 5-20x). Declared sizes are never trusted. Links, devices and special files are
refused, so nothing can escape or point elsewhere; ``manifest.mf`` (the bulk layout's index) is
skipped.

Usage::

    tar_gz([("ACK_dev.txt", data)])                  # writing: the one .tar.gz writer
    if is_archive(content):
        for name, data in read_members(content, ArchiveLimits(max_members=100)):
            parse_usage_file(data)
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from smartlic.errors import InvalidInput, PayloadTooLarge

__all__ = ["DEFAULT_LIMITS", "ArchiveLimits", "is_archive", "read_members", "tar_gz"]

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
RATIO_FLOOR = 1024 * 1024  # below this much output the ratio is not judged (tar padding)
MAX_HEADER_BYTES = 1024 * 1024  # pax / GNU long-name headers, which tarfile reads whole
_CHUNK = 64 * 1024
_EXTENDED = {
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
}


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 10_000
    max_member_bytes: int = 16 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 100
    max_nesting: int = 2  # an archive inside an archive, as the bulk layout; no deeper


DEFAULT_LIMITS = ArchiveLimits()


def is_archive(data: bytes) -> bool:
    """gzip, zip or a POSIX/GNU tar (``ustar`` at offset 257)."""
    return data[:2] == GZIP_MAGIC or data[:4] == ZIP_MAGIC or data[257:262] == b"ustar"


def read_members(
    data: bytes, limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[tuple[str, bytes]]:
    """``(name, content)`` of each plain file, one at a time, nested archives opened.

    Raises ``PayloadTooLarge`` (413) past a limit, ``InvalidInput`` (422, ``bad-archive``) for
    a corrupt or unsafe archive."""
    meter = _Meter(limits)
    try:
        yield from _read(data, meter, depth=1)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise InvalidInput(f"truncated or corrupt archive: {exc}", code="bad-archive") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput("an archive member's name is not text", code="bad-archive") from exc


class _Meter:
    """Counts members and decompressed bytes of one archive (nested ones included)."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _too_large(f"more than {self.limits.max_members} files in the archive")

    def add(self, size: int) -> None:
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise _too_large(
                f"the archive expands to more than {self.limits.max_total_bytes} bytes"
            )

    def ratio(self, output: int, compressed: int) -> None:
        """One compressed stream (a .tar.gz, a zip member) has given ``output`` bytes for
        ``compressed`` bytes read."""
        if output > RATIO_FLOOR and output > self.limits.max_ratio * max(compressed, 1):
            raise _too_large(
                f"the archive expands more than {self.limits.max_ratio} times (a compression bomb?)"
            )


def _too_large(detail: str) -> PayloadTooLarge:
    return PayloadTooLarge(detail, code="archive-too-large")


def tar_gz(files: list[tuple[str, bytes]]) -> bytes:
    """A ``.tar.gz`` of plain files (mode 0644), as the authority's ACK archives and the
    collector's exports are written."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _read(data: bytes, meter: _Meter, depth: int) -> Iterator[tuple[str, bytes]]:
    if data[:4] == ZIP_MAGIC:
        yield from _read_zip(data, meter, depth)
        return
    raw = _Counted(io.BytesIO(data))
    stream: _Reader = raw
    if data[:2] == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    metered = _Metered(stream, meter, raw)
    with tarfile.open(fileobj=metered, mode="r|", tarinfo=_BoundedTarInfo) as tar:
        for member in tar:
            name = member.name
            if member.isdir() or _skipped(name):
                continue
            if not member.isfile():
                raise InvalidInput(
                    f"archive member {name!r} is not a plain file", code="bad-archive"
                )
            meter.member()
            if member.size > meter.limits.max_member_bytes:
                raise _member_too_large(name, meter.limits)
            fh = tar.extractfile(member)
            content = fh.read() if fh is not None else b""
            yield from _opened(name, content, meter, depth)


def _read_zip(data: bytes, meter: _Meter, depth: int) -> Iterator[tuple[str, bytes]]:
    entries = _zip_entries(data)
    if entries > meter.limits.max_members:  # before zipfile builds an object per entry
        raise _too_large(f"more than {meter.limits.max_members} files in the archive")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.is_dir() or _skipped(info.filename):
                continue
            meter.member()
            with zf.open(info) as fh:
                content = _read_capped(fh, info.filename, meter, info.compress_size)
            yield from _opened(info.filename, content, meter, depth)


def _zip_entries(data: bytes) -> int:
    """Entries announced by the end-of-central-directory record (zip64 is refused)."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or len(data) < at + 22:
        raise InvalidInput("not a zip archive (no end of central directory)", code="bad-archive")
    entries = int(struct.unpack_from("<H", data, at + 10)[0])
    if entries == 0xFFFF:
        raise InvalidInput("zip64 archives are not accepted", code="bad-archive")
    return entries


def _read_capped(fh: IO[bytes], name: str, meter: _Meter, compressed: int) -> bytes:
    """A zip member, counted as it decompresses (its declared size is not trusted)."""
    parts: list[bytes] = []
    size = 0
    while chunk := fh.read(_CHUNK):
        size += len(chunk)
        if size > meter.limits.max_member_bytes:
            raise _member_too_large(name, meter.limits)
        meter.add(len(chunk))
        meter.ratio(size, compressed)
        parts.append(chunk)
    return b"".join(parts)


def _opened(name: str, content: bytes, meter: _Meter, depth: int) -> Iterator[tuple[str, bytes]]:
    if is_archive(content):
        if depth >= meter.limits.max_nesting:
            raise InvalidInput(f"{name}: archives nested too deep", code="bad-archive")
        yield from _read(content, meter, depth + 1)
    else:
        yield name, content


def _member_too_large(name: str, limits: ArchiveLimits) -> PayloadTooLarge:
    return _too_large(f"archive member {name!r} is larger than {limits.max_member_bytes} bytes")


def _skipped(name: str) -> bool:
    return name.lower().endswith("manifest.mf")


class _Counted(io.RawIOBase):
    """The compressed input, counting what has been read of it."""

    def __init__(self, inner: _Reader) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.count += len(data)
        return data


class _Metered(io.RawIOBase):
    """The decompressed stream tarfile reads, each byte counted by the meter."""

    def __init__(self, inner: _Reader, meter: _Meter, raw: _Counted) -> None:
        self.inner = inner
        self.meter = meter
        self.raw = raw
        self.output = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size if 0 <= size <= _CHUNK else _CHUNK)
        self.output += len(data)
        self.meter.add(len(data))
        self.meter.ratio(self.output, self.raw.count)
        return data


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads a pax or GNU long-name header's whole body into memory before handing
    out the member it describes; refuse one larger than ``MAX_HEADER_BYTES`` first."""

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise InvalidInput(f"an extended tar header of {self.size} bytes", code="bad-archive")
        return super()._proc_member(tarfile)  # type: ignore[misc,no-any-return]

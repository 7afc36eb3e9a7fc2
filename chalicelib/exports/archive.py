"""A ZIP archive written in pieces by separate Lambda invocations, straight into one S3
multipart upload.

Why not zipfile or a streaming-zip library: they keep the archive's state (entries, offsets)
in one process until the end, and an export is built by many invocations, each with a fresh
process. Here everything an invocation must hand to the next is small and JSON: the upload id,
the parts so far, the archive offset, and the bytes not yet in a part (kept in an S3 object).
Each entry's central-directory record is made when the entry is written (its offset is known
then) and stored beside the page, so the final step only concatenates.

Format: PKZIP APPNOTE 6.3 with ZIP64 where sizes, offsets or the entry count need it. Entries
whose size is known are written whole; large generated files (coco.json, export.json) are
streamed with a data descriptor. Timestamps are the export's, so a retried page writes the
same bytes again.
"""
import struct
import time
import zlib
from dataclasses import dataclass, field

from .. import storage

STORED, DEFLATED = 0, 8
# S3 parts must be >= 5 MiB except the last; buffer a little more and send when over it.
PART_BYTES = 8 * 1024 ** 2
_FLAG_UTF8, _FLAG_DESCRIPTOR = 0x800, 0x08
_MAX32, _MAX16 = 0xFFFFFFFF, 0xFFFF
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")


def dos_time(epoch: float) -> tuple[int, int]:
    t = time.gmtime(max(epoch, 315532800))  # ZIP cannot date before 1980
    return (t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec // 2,
            (t.tm_year - 1980) << 9 | t.tm_mon << 5 | t.tm_mday)


def _central(name: bytes, method: int, flags: int, when: tuple, crc: int, csize: int, usize: int,
             offset: int) -> bytes:
    extra = b""
    big = [v for v in (usize, csize, offset) if v >= _MAX32]
    if big:
        extra = struct.pack("<HH", 1, 8 * len(big)) + b"".join(struct.pack("<Q", v) for v in big)
    clip = lambda v: _MAX32 if v >= _MAX32 else v  # noqa: E731
    version = 45 if extra or flags & _FLAG_DESCRIPTOR else 20
    return _CENTRAL.pack(0x02014B50, 0x0300 | version, version, flags, method, *when, crc,
                         clip(csize), clip(usize), len(name), len(extra), 0, 0, 0,
                         0o100644 << 16, clip(offset)) + name + extra


@dataclass
class Entries:
    """What one writer added: the bytes to store and the central directory records."""
    data: bytearray = field(default_factory=bytearray)
    central: bytearray = field(default_factory=bytearray)
    count: int = 0


class Writer:
    """Appends entries at archive position `offset` (where the previous writer stopped)."""

    def __init__(self, offset: int, when: tuple[int, int], sink=None):
        self.offset, self.when = offset, when
        self.out = Entries()
        # Where entry bytes go: self.out.data, or a PartSink while streaming large files.
        self.sink = sink if sink is not None else self.out.data

    def _emit(self, chunk: bytes) -> None:
        self.sink.extend(chunk) if isinstance(self.sink, bytearray) else self.sink.write(chunk)
        self.offset += len(chunk)

    def add(self, name: str, data: bytes, compress: bool = True) -> None:
        """A whole file (under 4 GiB) whose bytes are at hand."""
        raw = name.encode()
        body = zlib.compress(data, 6, wbits=-15) if compress else data
        method = DEFLATED if compress else STORED
        if compress and len(body) >= len(data):  # incompressible (PNGs): store as is
            body, method = data, STORED
        crc, start = zlib.crc32(data), self.offset
        self._emit(_LOCAL.pack(0x04034B50, 20, _FLAG_UTF8, method, *self.when, crc, len(body),
                               len(data), len(raw), 0) + raw)
        self._emit(body)
        self.out.central += _central(raw, method, _FLAG_UTF8, self.when, crc, len(body),
                                     len(data), start)
        self.out.count += 1

    def stream(self, name: str, pieces) -> None:
        """A file of unknown (possibly > 4 GiB) size from an iterable of byte strings."""
        raw, start = name.encode(), self.offset
        flags = _FLAG_UTF8 | _FLAG_DESCRIPTOR
        zip64 = struct.pack("<HHQQ", 1, 16, 0, 0)
        self._emit(_LOCAL.pack(0x04034B50, 45, flags, DEFLATED, *self.when, 0, _MAX32, _MAX32,
                               len(raw), len(zip64)) + raw + zip64)
        packer, crc, usize, csize = zlib.compressobj(6, zlib.DEFLATED, -15), 0, 0, 0
        for piece in pieces:
            crc, usize = zlib.crc32(piece, crc), usize + len(piece)
            body = packer.compress(piece)
            csize += len(body)
            self._emit(body)
        body = packer.flush()
        csize += len(body)
        self._emit(body)
        self._emit(struct.pack("<IIQQ", 0x08074B50, crc, csize, usize))
        self.out.central += _central(raw, DEFLATED, flags, self.when, crc, csize, usize, start)
        self.out.count += 1


def end_records(entries: int, central_size: int, central_offset: int) -> bytes:
    """End of central directory, with the ZIP64 records when a field does not fit."""
    tail = b""
    if entries >= _MAX16 or central_size >= _MAX32 or central_offset >= _MAX32:
        zip64_at = central_offset + central_size
        tail = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, entries, entries,
                           central_size, central_offset)
        tail += struct.pack("<IIQI", 0x07064B50, 0, zip64_at, 1)
        entries, central_size, central_offset = _MAX16, min(central_size, _MAX32), _MAX32
    return tail + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(entries, _MAX16),
                              min(entries, _MAX16), central_size, central_offset, 0)


class PartSink:
    """Bytes on their way into the multipart upload: sent as a part whenever PART_BYTES
    gathered; what is left at the end of an invocation is parked in an S3 object."""

    def __init__(self, key: str, upload_id: str, parts: list[dict], pending: bytes = b""):
        self.key, self.upload_id, self.parts = key, upload_id, list(parts)
        self.buffer = bytearray(pending)

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= PART_BYTES:
            self._send()

    def extend(self, chunk: bytes) -> None:
        self.write(chunk)

    def _send(self) -> None:
        number = len(self.parts) + 1
        etag = storage.upload_part(self.key, self.upload_id, number, bytes(self.buffer))
        self.parts.append({"PartNumber": number, "ETag": etag})
        self.buffer = bytearray()

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._send()
        storage.complete_multipart(self.key, self.upload_id, self.parts)

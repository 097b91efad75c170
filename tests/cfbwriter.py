"""A small writer of OLE2 compound files (version 3, 512-byte sectors), for tests that need an Outlook .msg.

olefile only reads; no permissively licensed package writes .msg files. Streams
under 4,096 bytes live in the mini stream, as the format requires. Children
of a storage form a chain to the right, sorted the way the format compares
names (length, then upper case), which readers accept.
"""

from __future__ import annotations

import itertools
import struct

__all__ = ["compound_file"]

_SECTOR = 512
_MINI = 64
_CUTOFF = 4096
_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_NONE = 0xFFFFFFFF


def _key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE2 file holding `streams`, keyed by "storage/sub/stream" paths; storages are implied."""
    # Directory tree: every storage path, then every stream.
    nodes: dict[tuple[str, ...], bytes | None] = {(): None}
    for path, data in streams.items():
        parts = tuple(path.split("/"))
        for depth in range(1, len(parts)):
            nodes.setdefault(parts[:depth], None)
        nodes[parts] = data
    order = sorted(nodes, key=lambda p: (len(p), [_key(n) for n in p]))
    index = {path: number for number, path in enumerate(order)}

    mini = bytearray()
    minifat: list[int] = []
    big: list[tuple[tuple[str, ...], bytes]] = []
    start: dict[tuple[str, ...], int] = {}
    for path in order:
        data = nodes[path]
        if data is None or not path:
            continue
        if len(data) < _CUTOFF:
            first = len(mini) // _MINI
            count = max(1, -(-len(data) // _MINI)) if data else 0
            start[path] = first if data else _END
            minifat += [first + i + 1 for i in range(count - 1)] + ([_END] if count else [])
            mini += data + b"\0" * (count * _MINI - len(data))
        else:
            big.append((path, data))

    def sectors(size: int) -> int:
        return -(-size // _SECTOR)

    dir_sectors = sectors(len(order) * 128)
    minifat_sectors = sectors(len(minifat) * 4)
    mini_sectors = sectors(len(mini))
    big_sectors = sum(sectors(len(d)) for _, d in big)
    fat_sectors = 1
    while fat_sectors * 128 < fat_sectors + dir_sectors + minifat_sectors + mini_sectors + big_sectors:
        fat_sectors += 1
    assert fat_sectors <= 109, "too large for a header-only DIFAT"

    fat: list[int] = [_FAT] * fat_sectors
    body = bytearray()

    def place(data: bytes) -> int:
        count = sectors(len(data))
        if count == 0:
            return _END
        first = len(fat)
        fat.extend(first + i + 1 for i in range(count - 1))
        fat.append(_END)
        body.extend(data + b"\0" * (count * _SECTOR - len(data)))
        return first

    directory_at = len(fat)
    directory_offset = len(body)
    place(b"\0" * (dir_sectors * _SECTOR))  # filled in below
    minifat_at = place(b"".join(struct.pack("<I", v) for v in minifat)) if minifat else _END
    mini_at = place(bytes(mini)) if mini else _END
    for path, data in big:
        start[path] = place(data)

    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for path in order[1:]:
        children.setdefault(path[:-1], []).append(path)
    right: dict[tuple[str, ...], int] = {}
    first_child: dict[tuple[str, ...], int] = {}
    for parent, kids in children.items():
        kids.sort(key=lambda p: _key(p[-1]))
        first_child[parent] = index[kids[0]]
        for a, b in itertools.pairwise(kids):
            right[a] = index[b]

    entries = bytearray()
    for path in order:
        name = "Root Entry" if not path else path[-1]
        encoded = name.encode("utf-16-le") + b"\0\0"
        data = nodes[path]
        kind = 5 if not path else (1 if data is None else 2)
        if kind == 5:
            first, size = mini_at, len(mini)
        elif kind == 2:
            assert data is not None
            first, size = start[path], len(data)
        else:
            first, size = 0, 0
        entries += struct.pack(
            "<64sHBBIII16sIQQIQ",
            encoded,
            len(encoded),
            kind,
            1,  # black
            _NONE,
            right.get(path, _NONE),
            first_child.get(path, _NONE),
            b"\0" * 16,
            0,
            0,
            0,
            first,
            size,
        )
    body[directory_offset : directory_offset + len(entries)] = entries
    fat += [_FREE] * (fat_sectors * 128 - len(fat))
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat)

    difat = list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\0" * 16,
        0x003E,
        0x0003,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,
        fat_sectors,
        directory_at,
        0,
        _CUTOFF,
        minifat_at,
        sectors(len(minifat) * 4) if minifat else 0,
        _END,
        0,
    ) + b"".join(struct.pack("<I", v) for v in difat)
    assert len(header) == _SECTOR
    return header + fat_bytes + bytes(body)

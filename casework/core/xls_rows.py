"""Which rows of a legacy .xls workbook (Excel 97-2003, BIFF8) are hidden: the reader (calamine) gives
the cells but not the rows' visibility, and a village roster hides the members who left instead of
deleting them. Reads the compound file's Workbook stream and each sheet's ROW records (flag fDyZero).
Anything unexpected gives {}: the rows are then imported as the reader sees them, never refused here."""
import struct

SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
END_OF_CHAIN = 0xFFFFFFFE
FREE = 0xFFFFFFFF
BOF, EOF, BOUNDSHEET, ROW = 0x0809, 0x000A, 0x0085, 0x0208
HIDDEN = 0x20                    # ROW.grbit fDyZero: the row is hidden
MAX_SECTORS = 1 << 20            # a chain longer than this is a corrupt (or hostile) file


def hidden_rows(data):
    """{sheet index (workbook order, worksheets and chart sheets alike): {1-based hidden row numbers}}."""
    try:
        stream = _workbook_stream(data)
        return _scan_biff(stream) if stream else {}
    except (struct.error, IndexError, ValueError, KeyError):
        return {}


def _workbook_stream(data):
    if data[:8] != SIGNATURE:
        return None
    sector_size = 1 << struct.unpack_from("<H", data, 30)[0]
    dir_start, = struct.unpack_from("<I", data, 48)
    difat_start, difat_count = struct.unpack_from("<II", data, 68)

    def sector(n):
        offset = (n + 1) * sector_size
        return data[offset:offset + sector_size]

    fat_sectors = [s for s in struct.unpack_from("<109I", data, 76) if s not in (FREE, END_OF_CHAIN)]
    next_difat = difat_start
    for _ in range(difat_count):
        if next_difat in (FREE, END_OF_CHAIN):
            break
        block = struct.unpack(f"<{sector_size // 4}I", sector(next_difat))
        fat_sectors += [s for s in block[:-1] if s not in (FREE, END_OF_CHAIN)]
        next_difat = block[-1]
    fat = []
    for s in fat_sectors:
        fat.extend(struct.unpack(f"<{sector_size // 4}I", sector(s)))

    def chain(start):
        out, n = [], start
        while n not in (END_OF_CHAIN, FREE) and len(out) < MAX_SECTORS:
            out.append(sector(n))
            n = fat[n]
        return b"".join(out)

    directory = chain(dir_start)
    entries = {}
    for offset in range(0, len(directory), 128):
        entry = directory[offset:offset + 128]
        name_len, = struct.unpack_from("<H", entry, 64)
        entries.setdefault(entry[:max(0, name_len - 2)].decode("utf-16-le", "replace"),
                           struct.unpack_from("<II", entry, 116))
    found = entries.get("Workbook") or entries.get("Book")
    if not found:
        return None
    start, size = found
    cutoff, = struct.unpack_from("<I", data, 56)
    if size >= cutoff:
        return chain(start)[:size]
    # a small workbook lives in the mini stream (the root entry's chain), in 64-byte mini sectors
    mini_size = 1 << struct.unpack_from("<H", data, 32)[0]
    mini_fat_start, = struct.unpack_from("<I", data, 60)
    raw = chain(mini_fat_start)
    mini_fat = struct.unpack(f"<{len(raw) // 4}I", raw)
    root_start, root_size = entries["Root Entry"]
    mini_stream = chain(root_start)[:root_size]
    out, n = [], start
    while n not in (END_OF_CHAIN, FREE) and len(out) < MAX_SECTORS:
        out.append(mini_stream[n * mini_size:(n + 1) * mini_size])
        n = mini_fat[n]
    return b"".join(out)[:size]


def _records(stream, offset=0):
    while offset + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, offset)
        yield offset, kind, stream[offset + 4:offset + 4 + length]
        offset += 4 + length


def _scan_biff(stream):
    positions = []
    for _, kind, body in _records(stream):
        if kind == BOUNDSHEET:
            positions.append(struct.unpack_from("<I", body, 0)[0])
        elif kind == EOF:
            break               # the end of the workbook globals: the sheets follow
    out = {}
    for index, position in enumerate(positions):
        rows = set()
        for _, kind, body in _records(stream, position):
            if kind == ROW and len(body) >= 14:
                number, = struct.unpack_from("<H", body, 0)
                flags, = struct.unpack_from("<H", body, 12)
                if flags & HIDDEN:
                    rows.add(number + 1)
            elif kind == EOF:
                break
        if rows:
            out[index] = rows
    return out

"""A list of import rows kept in a temporary file, a chunk at a time in memory.

An import checks every row before it writes any, in several passes (links, duplicates, numbering);
a 15 MB roster holds 160,000 checked rows, several hundred MB as Python objects. Rows go to disk in
chunks as they are appended; each pass reads one chunk back, and a chunk the pass changed (a link
resolved to an id) is written again, so what a pass does to a row is there in the next pass.
The file has no name and disappears with the list.
"""
import pickle
import tempfile

CHUNK = 2000


class Spill:
    def __init__(self, rows=(), chunk=CHUNK):
        self.chunk = chunk
        self.file = None
        self.index = []         # (offset, length) of each chunk on disk, in order
        self.tail = []          # the rows not yet written
        self.count = 0
        self.live = self.size = 0
        for row in rows:
            self.append(row)

    def append(self, row):
        self.tail.append(row)
        self.count += 1
        if len(self.tail) >= self.chunk:
            self.index.append(self._write(pickle.dumps(self.tail, pickle.HIGHEST_PROTOCOL)))
            self.tail = []

    def __len__(self):
        return self.count

    def __iter__(self):
        for i in range(len(self.index)):
            offset, length = self.index[i]
            self.file.seek(offset)
            before = self.file.read(length)
            rows = pickle.loads(before)
            try:
                yield from rows
            finally:        # also when the pass stops early: what it changed so far is kept
                after = pickle.dumps(rows, pickle.HIGHEST_PROTOCOL)
                if after != before:
                    self.live -= length
                    self.index[i] = self._write(after)
        yield from self.tail
        if self.size > 2 * self.live + 64 * 1024 * 1024:
            self._compact()

    def view(self):
        """The rows for a pass that changes none of them (nothing is written back)."""
        for offset, length in list(self.index):
            self.file.seek(offset)
            yield from pickle.loads(self.file.read(length))
        yield from self.tail

    def _write(self, data):
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="jiuzhu-import-")
        self.file.seek(0, 2)
        offset = self.file.tell()
        self.file.write(data)
        self.live += len(data)
        self.size += len(data)
        return offset, len(data)

    def _compact(self):
        """Chunks written again leave their old copies behind: copy the live ones to a new file."""
        old, index = self.file, self.index
        self.file, self.index, self.live, self.size = None, [], 0, 0
        for offset, length in index:
            old.seek(offset)
            self.index.append(self._write(old.read(length)))
        old.close()

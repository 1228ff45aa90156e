"""Reading pretrained word vectors (GloVe's text format, plain or gzipped).

A line is ``word v1 v2 ... vN``. Only the vocabulary's words matter, and the
full GloVe 6B file has 400,000 lines (171 MB unpacked), so:

- a thread decompresses the file in large chunks while the caller scans the
  previous chunk (zlib releases the GIL, so the two overlap on two cores);
- each line's word is cut at its first space and looked up as bytes;
- floats are parsed only for the lines kept, all in one numpy call.

Loading thus costs about what decompressing the file costs.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from k12ai_worker import inputs

READ_BYTES = 1 << 22
_GZIP_MAGIC = b"\x1f\x8b"
# Chunks decompressed ahead of the scan; bounds memory to a few tens of MB.
_READ_AHEAD = 4


@dataclass(frozen=True)
class PretrainedVectors:
    # Row i of ``vectors`` is the vector of vocabulary id ``indices[i]``.
    indices: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    lines_read: int
    # Lines of a kept word whose vector has another dimension (skipped, as AllenNLP does).
    wrong_dimension: int


def _raw_chunks(path: Path, key: str) -> Iterator[bytes]:
    """The file's bytes, gunzipped if it is gzip (every member of it)."""
    with inputs.open_binary(key, path) as file:
        first = file.read(READ_BYTES)
        if not first.startswith(_GZIP_MAGIC):
            while first:
                yield first
                first = file.read(READ_BYTES)
            return
        inflater = zlib.decompressobj(wbits=31)
        data = first
        while data:
            out = inflater.decompress(data)
            if out:
                yield out
            while inflater.eof and inflater.unused_data:
                # A gzip file may hold several members one after another.
                pending = inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
                out = inflater.decompress(pending)
                if out:
                    yield out
            data = file.read(READ_BYTES)
        tail = inflater.flush()
        if tail:
            yield tail
        if not inflater.eof:
            raise EOFError(f"{path} ends before the end of its gzip stream")


def _read_ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, produced by a thread up to a few ahead of the consumer."""
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                ready.put(chunk)
            ready.put(None)
        except BaseException as exc:
            ready.put(exc)

    thread = threading.Thread(target=produce, name="pretrained-file-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def read_vectors(path: Path, tokens: Sequence[str], dim: int, *, key: str) -> PretrainedVectors:
    """Vectors of ``tokens`` (vocabulary order) found in the file at ``path``."""
    wanted = {token.encode("utf-8"): index for index, token in enumerate(tokens)}
    get = wanted.get
    kept: dict[int, bytes] = {}
    lines_read = 0
    rest = b""
    for chunk in _read_ahead(_raw_chunks(path, key)):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        lines_read += len(lines)
        for line in lines:
            index = get(line[: line.find(b" ")])
            if index is not None:
                # A later line of the same word wins, as in AllenNLP.
                kept[index] = line
    if rest.strip():
        lines_read += 1
        index = get(rest[: rest.find(b" ")])
        if index is not None:
            kept[index] = rest
    indices: list[int] = []
    values: list[bytes] = []
    for index, line in kept.items():
        line = line.rstrip()
        if line.count(b" ") != dim:
            continue
        indices.append(index)
        values.append(line[line.find(b" ") + 1 :])
    vectors = np.array(b" ".join(values).split(), dtype=np.float32).reshape(len(indices), dim)
    return PretrainedVectors(np.array(indices, dtype=np.int64), vectors, lines_read, len(kept) - len(indices))

"""EventFile: TensorBoard's event file, written in batches.

TensorBoard's own writer (behind torch's SummaryWriter) checksums every record with a pure-Python
CRC32C in a background thread: ~0.4 us a byte, 50-80 us for one event of three scalars, and on
two cores that thread takes turns with the training step for the interpreter. Here events wait
in memory and go to disk every FLUSH_SECONDS and at close, their checksums computed together by
numpy, one byte position at a time across all records.

A record (TFRecord framing): uint64 length, uint32 masked CRC32C of those 8 bytes, the serialized
Event, uint32 masked CRC32C of it.
"""
import os
import socket
import struct
import time
import weakref
from pathlib import Path

import numpy as np

from derivtrain.writes import Folder

FLUSH_SECONDS = 5.0  # a curve in TensorBoard is at most this old (SummaryWriter's default: 120 s)
_BATCHED_MAX_BYTES = 1024  # scalars, histograms; longer ones (images, text) are few: one by one


def _crc32c_table() -> np.ndarray:
    """The CRC32C (Castagnoli, reflected polynomial 0x82F63B78) value of each byte."""
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(0x82F63B78), crc >> 1).astype(np.uint32)
    return crc


_TABLE = _crc32c_table()


def masked_crc32c(records: list) -> np.ndarray:
    """TFRecord's masked CRC32C of each bytes object, in one pass over byte positions."""
    lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    width = int(lengths.max(initial=0))
    table = np.zeros((len(records), width), dtype=np.uint8)
    for row, record in enumerate(records):
        table[row, :len(record)] = np.frombuffer(record, dtype=np.uint8)
    crc = np.full(len(records), 0xFFFFFFFF, dtype=np.uint32)
    for column in range(width):
        step = _TABLE[(crc ^ table[:, column]) & 0xFF] ^ (crc >> 8)
        crc = np.where(lengths > column, step, crc)
    crc ^= np.uint32(0xFFFFFFFF)
    return ((crc >> 15) | (crc << 17)) + np.uint32(0xA282EAD8)  # uint32 arithmetic wraps, as the mask wants


def _next_stamp(names) -> int:
    """This file's time stamp: now, or one past the newest event file's in the folder. TensorBoard
    reads a folder's event files in name order, so a resumed run started within the second its
    killed run last wrote must still sort after it (or the purge of its steps would come first)."""
    stamps = [int(n.split(".")[3]) for n in names
              if n.startswith("events.out.tfevents.") and n.count(".") >= 3 and n.split(".")[3].isdigit()]
    return max([int(time.time()), *(s + 1 for s in stamps)])


class EventFile:
    """One events.out.tfevents.* file in `folder`; events in, records out every FLUSH_SECONDS."""

    def __init__(self, folder, purge_step=None):
        from tensorboard.compat.proto import event_pb2

        self.Event = event_pb2.Event
        Path(folder).mkdir(parents=True, exist_ok=True)
        with Folder(folder) as opened:  # a new name, created: never a planted link followed
            stamp = _next_stamp(opened.names())
            name = f"events.out.tfevents.{stamp:010d}.{socket.gethostname()}.{os.getpid()}.{id(self)}"
            self.file = opened.create(name)
        self.pending = []  # (step, wall_time, Summary or [(tag, value), ...])
        self.next_flush = time.monotonic() + FLUSH_SECONDS
        # written even if the run stops without closing the logger (an exception, Ctrl-C)
        self._finalizer = weakref.finalize(self, _write, self.file, self.pending, self.Event, True)
        self.write_event(self.Event(wall_time=time.time(), file_version="brain.Event:2"))
        if purge_step is not None:
            # TensorBoard drops this run's points from purge_step on (logged after the checkpoint
            # a resumed run starts from): no step appears twice
            session_log = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
            self.write_event(self.Event(wall_time=time.time(), step=purge_step, session_log=session_log))
        self.flush()

    def add_scalars(self, pairs: list, step: int) -> None:
        """[(tag, value), ...] at `step`: kept as plain values, built into an event at the flush."""
        self.pending.append((step, time.time(), pairs))
        if time.monotonic() >= self.next_flush:
            self.flush()

    def add_summary(self, summary, step: int = 0) -> None:
        self.pending.append((step, time.time(), summary))

    def write_event(self, event) -> None:
        self.pending.append(event)

    def flush(self) -> None:
        _write(self.file, self.pending, self.Event)
        self.next_flush = time.monotonic() + FLUSH_SECONDS

    def close(self) -> None:
        self._finalizer()


def _write(file, pending: list, Event, close: bool = False) -> None:
    if pending and not file.closed:
        from tensorboard.compat.proto.summary_pb2 import Summary

        data = [_event(item, Event, Summary).SerializeToString() for item in pending]
        pending.clear()
        headers = [struct.pack("<Q", len(d)) for d in data]
        short = [i for i, d in enumerate(data) if len(d) <= _BATCHED_MAX_BYTES]
        data_crc = dict(zip(short, masked_crc32c([data[i] for i in short]).tolist())) if short else {}
        header_crc = masked_crc32c(headers).tolist()
        for i, (header, record) in enumerate(zip(headers, data)):
            crc = data_crc[i] if i in data_crc else _one_masked_crc32c(record)
            file.write(header + struct.pack("<I", header_crc[i]) + record + struct.pack("<I", crc))
        file.flush()
    if close and not file.closed:
        file.close()


_TABLE_LIST = _TABLE.tolist()  # plain ints: the per-byte loop below reads it ~0.1 us a byte


def _one_masked_crc32c(record: bytes) -> int:
    """A long record alone (the config text): a byte loop beats numpy's per-position calls here
    (TensorBoard's own is the same loop, behind a ~0.15 s import)."""
    crc, table = 0xFFFFFFFF, _TABLE_LIST
    for byte in record:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _event(item, Event, Summary):
    if isinstance(item, Event):
        return item
    step, wall_time, content = item
    if isinstance(content, list):
        content = Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in content])
    return Event(wall_time=wall_time, step=step, summary=content)

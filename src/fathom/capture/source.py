"""The packet-source interface: what the engine reads packets from.

Capture files (and pipes) and live AF_PACKET rings both hand packets over in batches: a buffer
plus records whose offsets index it, so the decoder reads every packet in place. A record is::

    (timestamp_seconds, data_offset, caplen, wirelen, interface_index, linktype)

A record's bytes stay valid until the next batch is requested: a live ring hands its block back
to the kernel then, a pipe drops its chunk. Reading never raises on bad data: the records end at
the damage and :attr:`PacketSource.error` holds one line naming the input and where it broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, Self

from fathom.decode.packet import Buffer

PacketRecord = tuple[float, int, int, int, int, int]
Batch = tuple[Buffer, Iterable[PacketRecord]]


class CaptureError(Exception):
    """The input cannot be opened as a packet source at all."""


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface: pcap files have exactly one, pcapng files one per IDB."""

    index: int
    linktype: int
    snaplen: int
    name: str = ""


class PacketSource(Protocol):
    @property
    def live(self) -> bool:
        """True for a live ring: it yields an empty batch when its poll times out, so the
        consumer can expire flows on a quiet interface."""

    @property
    def interfaces(self) -> list[Interface]:
        """Interfaces by record index. The same list for the source's whole life, filled in as
        they are learnt, so a reference taken before reading stays current."""

    @property
    def error(self) -> str | None:
        """One line naming the input and the byte offset of the damage that ended reading."""

    @property
    def position(self) -> int:
        """Bytes consumed so far."""

    @property
    def size(self) -> int:
        """Total bytes, 0 when unknown (a pipe, a live ring)."""

    def batches(self) -> Iterator[Batch]:
        """Buffers with the records that index them; requesting a batch ends the previous one."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

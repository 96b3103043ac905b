"""A user-space "wire" that bridges two interfaces with delay, jitter, reordering,
duplication and loss.

The lab kernel has no netem (nor act_gact or nft ``queue``), so the impairments that
need to *hold* frames live here: a process in a "wire" namespace owns two veth ends,
reads every Ethernet frame from one with an AF_PACKET raw socket and writes it, impaired,
to the other. Run it as::

    ip netns exec W python -m natprobe.lab.wire --left wl --right wr --delay-ms 25

Two halves, kept apart so the decisions can be unit-tested without sockets or clocks:

* :class:`Impairment` — the pure model of one direction. It takes a frame and its
  arrival time, draws from its own seeded RNG, queues the resulting transmissions and
  hands them back from :meth:`Impairment.due` when their time has come.
* the AF_PACKET bridge (:func:`run_wire`, :func:`main`) — an asyncio loop with one reader
  per socket and a single timer armed for the earliest queued transmission. Arrival
  times are the kernel's receive timestamps, and the timer wakes 1.5 ms early and sleeps
  the rest precisely (epoll rounds timeouts up to whole milliseconds), so the delay is
  accurate to a fraction of a millisecond when the machine is not overloaded; the
  summary reports the worst lateness seen.

The impairment model, per direction and per frame, in this order:

1. **Loss.** With probability ``loss`` the frame is dropped (counted as ``lost``).
2. **Delay and jitter.** Its send time is ``arrival + delay + U(0, jitter)``, then raised
   to the send time of the previous in-order frame, so jitter alone never reorders
   (a FIFO link whose latency varies). Reordering is only ever the next step's choice.
3. **Reordering.** With probability ``reorder`` the frame is *held back*: it is sent
   ``reorder_extra`` later than step 2 says, and it does not advance the FIFO floor, so
   every frame that arrives within that extra time overtakes it (counted ``reordered``).
4. **Duplication.** With probability ``duplicate`` a second identical copy is sent
   ``duplicate_gap`` after the frame itself (counted ``duplicated``).
5. **Queue cap.** A frame that would take the queue beyond ``max_queued_frames`` or
   ``max_queued_bytes`` is dropped (counted ``dropped``); a duplicate that does not fit is
   simply not made (also counted ``dropped``).

Every frame consumes exactly four RNG draws (loss, jitter, reorder, duplicate) whatever
the settings, so with one seed the n-th frame gets the same decisions even when another
probability changes. Each direction has its own RNG derived from ``--seed``.

The bridge ignores frames that the kernel reports as ``PACKET_OUTGOING``: a packet socket
bound to an interface also sees what others in the namespace *send* on it (the wire
namespace's own stack, another process), which is not traffic between the peers, and
which another wire instance on the same interfaces would otherwise bounce back and forth.

It enables ``PACKET_VNET_HDR`` on both sockets when it can: frames then carry the
kernel's checksum-offload and GSO metadata across the wire, so the peers may keep veth's
default offloads (partial checksums, 64 KiB TCP super-frames) and it still works. With
``--no-vnet-hdr`` the peers' transmit offloads must be off
(``ethtool -K PEER tx off tso off gso off``), or UDP and TCP arrive with bad checksums.
On its own two interfaces the wire turns offloads off itself (``ethtool -K IF rx off tx
off sg off tso off gso off gro off lro off``, failures ignored), so what it emits has
final checksums and MTU-sized segments, as from a real wire.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import heapq
import logging
import math
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from natprobe.errors import LabError

__all__ = (
    "ImpairmentConfig",
    "Send",
    "ImpairmentCounters",
    "Impairment",
    "Direction",
    "direction_rng",
    "LinkStats",
    "WireOptions",
    "format_summary",
    "parse_summary",
    "parse_args",
    "run_wire",
    "main",
)

logger = logging.getLogger(__name__)

# --- the pure model ------------------------------------------------------------------

#: Upper bound for every configured time, so a typo cannot park frames for hours.
_MAX_TIME_S = 60.0


@dataclass(frozen=True, slots=True)
class ImpairmentConfig:
    """Impairments of one direction. Times in seconds, probabilities in [0, 1]."""

    delay: float = 0.0
    jitter: float = 0.0
    reorder: float = 0.0
    reorder_extra: float = 0.010
    duplicate: float = 0.0
    duplicate_gap: float = 0.001
    loss: float = 0.0
    first_extra: float = 0.0
    """Extra delay for the first frame of each IPv4 UDP/TCP flow (both directions count as
    one flow): the slow first packet of a NAT creating its mapping or of neighbour
    resolution. The frame is held back like a reordered one, so it delays nobody else."""
    max_queued_frames: int = 4096
    max_queued_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("delay", "jitter", "reorder_extra", "duplicate_gap", "first_extra"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= _MAX_TIME_S):
                raise ValueError(f"{name} must be within 0..{_MAX_TIME_S} s, got {value!r}")
        for name in ("reorder", "duplicate", "loss"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a probability within 0..1, got {value!r}")
        if self.max_queued_frames < 1 or self.max_queued_bytes < 1:
            raise ValueError("queue caps must be positive")


@dataclass(frozen=True, slots=True)
class Send:
    """One scheduled transmission: ``frame`` goes out at monotonic time ``at``."""

    at: float
    frame: bytes
    reordered: bool = False
    duplicate: bool = False


@dataclass(slots=True)
class ImpairmentCounters:
    """What the model decided, per direction. Mutable: it is a running tally."""

    received: int = 0
    delayed: int = 0
    reordered: int = 0
    duplicated: int = 0
    lost: int = 0
    dropped: int = 0
    first_delayed: int = 0


_FLOW_TABLE_LIMIT = 65536


def flow_key(frame: bytes, offset: int = 0) -> bytes | None:
    """The flow of an Ethernet frame carrying IPv4 UDP or TCP (``offset``: bytes before the
    Ethernet header, e.g. a virtio-net header), the same for both directions; else ``None``."""
    eth = offset
    if len(frame) < eth + 14 + 20 or frame[eth + 12 : eth + 14] != b"\x08\x00":
        return None
    ip = eth + 14
    header = (frame[ip] & 0x0F) * 4
    protocol = frame[ip + 9]
    if protocol not in (6, 17) or len(frame) < ip + header + 4:
        return None
    a = frame[ip + 12 : ip + 16] + frame[ip + header : ip + header + 2]
    b = frame[ip + 16 : ip + 20] + frame[ip + header + 2 : ip + header + 4]
    return bytes([protocol]) + min(a, b) + max(a, b)


class Impairment:
    """The impairment decisions and send queue of one direction (no I/O, no clock).

    Call :meth:`arrive` for each frame with the current monotonic time; it returns the
    transmissions it scheduled (empty when the frame was lost or dropped) and keeps them
    queued. Call :meth:`due` when :meth:`next_time` has come to take them out, in send
    order; equal send times keep their scheduling order.
    """

    def __init__(self, config: ImpairmentConfig, rng: random.Random, flows: set[bytes] | None = None) -> None:
        self.config = config
        self.counters = ImpairmentCounters()
        self._rng = rng
        self._flows = flows if flows is not None else set()
        """Flows seen (shared by both directions of a wire), for ``first_extra``."""
        # (at, sequence, send): the sequence number makes equal times leave FIFO.
        self._queue: list[tuple[float, int, Send]] = []
        self._sequence = 0
        self._queued_bytes = 0
        self._fifo_floor = -math.inf

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def next_time(self) -> float | None:
        """Send time of the earliest queued transmission, or None if the queue is empty."""
        return self._queue[0][0] if self._queue else None

    def arrive(self, now: float, frame: bytes, flow: bytes | None = None) -> list[Send]:
        """Decide the fate of ``frame`` arriving at ``now``; queue and return its sends.

        ``flow`` (:func:`flow_key`) lets ``first_extra`` hold back a flow's first frame.
        """
        cfg = self.config
        self.counters.received += 1
        # Always four draws, in a fixed order: see the module docstring.
        u_loss, u_jitter, u_reorder, u_dup = (self._rng.random() for _ in range(4))
        if u_loss < cfg.loss:
            self.counters.lost += 1
            return []
        if not self._fits(len(frame)):
            self.counters.dropped += 1
            return []
        at = max(now + cfg.delay + u_jitter * cfg.jitter, self._fifo_floor)
        reordered = u_reorder < cfg.reorder
        first = cfg.first_extra > 0 and flow is not None and flow not in self._flows
        if first and flow is not None:
            if len(self._flows) >= _FLOW_TABLE_LIMIT:
                self._flows.clear()  # bounded; an old flow may then count as new once more
            self._flows.add(flow)
            at += cfg.first_extra
            self.counters.first_delayed += 1
        if reordered:
            at += cfg.reorder_extra
            self.counters.reordered += 1
        elif not first:
            self._fifo_floor = at
        if at > now:
            self.counters.delayed += 1
        sends = [Send(at, frame, reordered=reordered)]
        self._push(sends[0])
        if u_dup < cfg.duplicate:
            if self._fits(len(frame)):
                copy = Send(at + cfg.duplicate_gap, frame, reordered=reordered, duplicate=True)
                sends.append(copy)
                self._push(copy)
                self.counters.duplicated += 1
            else:
                self.counters.dropped += 1
        return sends

    def due(self, now: float) -> list[Send]:
        """Remove and return every queued transmission with ``at <= now``, in order."""
        out: list[Send] = []
        while self._queue and self._queue[0][0] <= now:
            send = heapq.heappop(self._queue)[2]
            self._queued_bytes -= len(send.frame)
            out.append(send)
        return out

    def clear(self) -> int:
        """Forget every queued transmission (at shutdown); return how many there were."""
        count = len(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return count

    def _fits(self, size: int) -> bool:
        cfg = self.config
        return (
            len(self._queue) < cfg.max_queued_frames
            and self._queued_bytes + size <= cfg.max_queued_bytes
        )

    def _push(self, send: Send) -> None:
        heapq.heappush(self._queue, (send.at, self._sequence, send))
        self._sequence += 1
        self._queued_bytes += len(send.frame)


class Direction(IntEnum):
    """The two directions across the wire (index into the port pair)."""

    LEFT_TO_RIGHT = 0
    RIGHT_TO_LEFT = 1

    @property
    def key(self) -> str:
        return "l2r" if self is Direction.LEFT_TO_RIGHT else "r2l"


def direction_rng(seed: int, direction: Direction) -> random.Random:
    """The RNG of one direction: seeded from a string, so stable across Python runs."""
    return random.Random(f"natprobe.lab.wire:{seed}:{direction.key}")


@dataclass(slots=True)
class LinkStats:
    """What the I/O side saw, per direction. Mutable: a running tally."""

    sent: int = 0
    send_errors: int = 0
    recv_errors: int = 0
    truncated: int = 0
    queued_at_exit: int = 0
    #: Worst lateness of a transmission against its scheduled time, in seconds: shows
    #: whether the scheduler (and the machine) kept up.
    late_max: float = 0.0


_SUMMARY_PREFIX = "natprobe-wire summary"


def format_summary(
    seed: int,
    runtime: float,
    counters: Sequence[ImpairmentCounters],
    stats: Sequence[LinkStats],
) -> str:
    """One ``key=value`` line with every counter of both directions.

    ``rx`` frames read, ``tx`` transmissions written (duplicates included), ``dropped``
    queue-cap drops, ``errors`` failed reads and writes, ``queued`` frames still held at exit.
    """
    parts = [_SUMMARY_PREFIX, f"seed={seed}", f"runtime_s={runtime:.3f}"]
    for direction in Direction:
        c, s, k = counters[direction], stats[direction], direction.key
        parts += [
            f"{k}_rx={c.received}",
            f"{k}_tx={s.sent}",
            f"{k}_delayed={c.delayed}",
            f"{k}_reordered={c.reordered}",
            f"{k}_duplicated={c.duplicated}",
            f"{k}_lost={c.lost}",
            f"{k}_dropped={c.dropped}",
            f"{k}_truncated={s.truncated}",
            f"{k}_errors={s.send_errors + s.recv_errors}",
            f"{k}_queued={s.queued_at_exit}",
            f"{k}_late_max_ms={s.late_max * 1000:.3f}",
        ]
    return " ".join(parts)


def parse_summary(line: str) -> dict[str, float]:
    """Parse a :func:`format_summary` line back into numbers (for tests and the lab)."""
    if not line.startswith(_SUMMARY_PREFIX):
        raise ValueError(f"not a wire summary line: {line[:80]!r}")
    fields: dict[str, float] = {}
    for token in line[len(_SUMMARY_PREFIX) :].split():
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"bad summary token {token!r}")
        fields[key] = float(value)
    return fields


# --- the AF_PACKET bridge ----------------------------------------------------------------

# Linux constants the socket module does not export (linux/if_packet.h, if_ether.h).
_SOL_PACKET = 263
_ETH_P_ALL = 0x0003
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_MR_PROMISC = 1
_PACKET_VNET_HDR = 15
_VNET_HDR_BYTES = 10
"""struct virtio_net_hdr, ahead of every frame once PACKET_VNET_HDR is on."""
_PACKET_IGNORE_OUTGOING = 23
_SO_SNDBUFFORCE = 32
_SO_RCVBUFFORCE = 33
_MSG_TRUNC = 0x20
#: SO_TIMESTAMPNS (= SCM_TIMESTAMPNS) with a 64-bit struct timespec, asm-generic/socket.h.
_SO_TIMESTAMPNS = 35
_ANCBUF_SIZE = socket.CMSG_SPACE(16)

_SOCKET_BUFFER = 4 * 1024 * 1024
#: Large enough for a 64 KiB GSO frame plus link and vnet headers.
_RECV_BUFFER = 256 * 1024
#: Frames read per wake-up before yielding to the timer and the other socket.
_READ_BATCH = 64
#: Frames due within this much are sent together rather than with one more wake-up each.
_EARLY_S = 0.0001
#: The timer fires this long before a deadline, and the rest is slept precisely. Why:
#: epoll's timeout rounds up to whole milliseconds, which alone would make the delay
#: 0..1 ms too long. The top-up sleep blocks the loop at most this long per wake-up, and
#: costs no accuracy on the read side, since arrivals carry kernel timestamps.
_PRECISE_S = 0.0015
#: Features the wire tries to turn off on its own interfaces (failures are ignored).
_OFFLOADS = ("rx", "tx", "sg", "tso", "gso", "gro", "lro")


@dataclass(frozen=True, slots=True)
class WireOptions:
    """Everything the bridge needs, parsed from the command line."""

    left: str
    right: str
    config: ImpairmentConfig
    seed: int = 0
    max_seconds: float = 3600.0
    vnet_hdr: bool = True
    offloads_off: bool = True


class _Port:
    """One interface and its bound packet socket."""

    def __init__(self, name: str) -> None:
        self.name = name
        try:
            self.ifindex = socket.if_nametoindex(name)
        except OSError as exc:
            raise LabError(f"no interface {name!r} in this namespace") from exc
        try:
            # Protocol 0 receives nothing until bind() names the interface and ETH_P_ALL,
            # so no frame of another interface slips in before then.
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except OSError as exc:
            raise LabError(f"cannot open a packet socket (need CAP_NET_RAW): {exc}") from exc
        try:
            self._configure()
        except OSError as exc:
            self.sock.close()
            raise LabError(f"cannot set up a packet socket on {name!r}: {exc}") from exc

    def _configure(self) -> None:
        s = self.sock
        s.setblocking(False)
        # Best effort: the kernel then stops queueing our own transmissions to us at all;
        # the pkttype check in the reader stays as the guarantee (PACKET_IGNORE_OUTGOING
        # needs Linux 4.20).
        with contextlib.suppress(OSError):
            s.setsockopt(_SOL_PACKET, _PACKET_IGNORE_OUTGOING, 1)
        buffers = ((_SO_RCVBUFFORCE, socket.SO_RCVBUF), (_SO_SNDBUFFORCE, socket.SO_SNDBUF))
        for force, plain in buffers:
            try:
                s.setsockopt(socket.SOL_SOCKET, force, _SOCKET_BUFFER)
            except OSError:
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, plain, _SOCKET_BUFFER)
        s.bind((self.name, _ETH_P_ALL))  # the socket module applies htons() itself
        # Best effort kernel receive timestamps; without them arrival is the read time.
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        # Promiscuous so a real NIC would pass frames for other MACs too (veth already
        # does); the membership ends when the socket closes.
        mreq = struct.pack("iHH8s", self.ifindex, _PACKET_MR_PROMISC, 0, b"")
        with contextlib.suppress(OSError):
            s.setsockopt(_SOL_PACKET, _PACKET_ADD_MEMBERSHIP, mreq)

    def enable_vnet_hdr(self) -> bool:
        try:
            self.sock.setsockopt(_SOL_PACKET, _PACKET_VNET_HDR, 1)
        except OSError as exc:
            logger.warning("PACKET_VNET_HDR unavailable on %s: %s", self.name, exc)
            return False
        return True

    def disable_vnet_hdr(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setsockopt(_SOL_PACKET, _PACKET_VNET_HDR, 0)

    def close(self) -> None:
        self.sock.close()


#: Inode of the initial network namespace on Linux >= 6.18 (NET_NS_INIT_INO, linux/nsfs.h).
_NET_NS_INIT_INO = 0xEFFFFFF9


def _refuse_initial_netns() -> None:
    """Refuse to run in the host's network namespace.

    The wire sets promiscuous mode and turns offloads off, which must only ever touch a
    lab namespace. The host's namespace is recognised by the fixed inode newer kernels
    give it, or as the namespace of PID 1 or of kthreadd (PID 2), when readable.
    """
    try:
        ours = os.stat("/proc/self/ns/net")
    except OSError:
        return  # no /proc: nothing to compare, the caller is in charge
    initial = ours.st_ino == _NET_NS_INIT_INO
    for pid in {1, 2} - {os.getpid()}:
        with contextlib.suppress(OSError):
            other = os.stat(f"/proc/{pid}/ns/net")
            initial = initial or (other.st_dev, other.st_ino) == (ours.st_dev, ours.st_ino)
    if initial:
        raise LabError(
            "refusing to run in the initial network namespace; "
            "start the wire with 'ip netns exec NAMESPACE'"
        )


def _turn_offloads_off(iface: str) -> None:
    """Best effort ``ethtool -K IFACE <feature> off``, one feature at a time."""
    # `ip netns exec` keeps the caller's PATH, which may lack /usr/sbin.
    ethtool = shutil.which("ethtool") or shutil.which("ethtool", path="/usr/sbin:/sbin")
    if ethtool is None:
        logger.info("ethtool not found; leaving offloads of %s as they are", iface)
        return
    for feature in _OFFLOADS:
        try:
            subprocess.run(
                [ethtool, "-K", iface, feature, "off"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            logger.info("ethtool -K %s %s off failed: %s", iface, feature, exc)


class _Bridge:
    """The asyncio side: two readers, one timer, two impairment models."""

    def __init__(self, loop: asyncio.AbstractEventLoop, options: WireOptions) -> None:
        self._loop = loop
        self._options = options
        self._ports: tuple[_Port, _Port] | None = None
        flows: set[bytes] = set()  # one flow table for both directions
        self.models = tuple(
            Impairment(options.config, direction_rng(options.seed, d), flows) for d in Direction
        )
        self._frame_offset = 0
        self.stats = (LinkStats(), LinkStats())
        self._buffer = bytearray(_RECV_BUFFER)
        self._view = memoryview(self._buffer)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self.stopped = asyncio.Event()
        self.failure: str | None = None

    def open(self) -> None:
        opts = self._options
        _refuse_initial_netns()
        for name in (opts.left, opts.right):
            try:
                socket.if_nametoindex(name)
            except OSError as exc:
                raise LabError(f"no interface {name!r} in this namespace") from exc
        if opts.offloads_off:
            for name in (opts.left, opts.right):
                _turn_offloads_off(name)
        left = _Port(opts.left)
        try:
            right = _Port(opts.right)
        except BaseException:
            left.close()
            raise
        self._ports = (left, right)
        if opts.vnet_hdr:
            # Both sides or neither: the header read on one socket is written on the other.
            if not (left.enable_vnet_hdr() and right.enable_vnet_hdr()):
                left.disable_vnet_hdr()
                right.disable_vnet_hdr()
            else:
                self._frame_offset = _VNET_HDR_BYTES
        for direction in Direction:
            fd = self._ports[direction].sock.fileno()
            self._loop.add_reader(fd, self._on_readable, direction)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ports is not None:
            for port in self._ports:
                self._loop.remove_reader(port.sock.fileno())
                port.close()
            self._ports = None
        for direction in Direction:
            self.stats[direction].queued_at_exit = self.models[direction].clear()

    def _on_readable(self, direction: Direction) -> None:
        assert self._ports is not None
        port = self._ports[direction]
        model = self.models[direction]
        stats = self.stats[direction]
        for _ in range(_READ_BATCH):
            try:
                n, ancdata, flags, address = port.sock.recvmsg_into(
                    [self._buffer], _ANCBUF_SIZE
                )
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                stats.recv_errors += 1
                self._recv_failed(port, exc)
                break
            # address = (ifname, proto, pkttype, hatype, hwaddr). What this namespace
            # itself transmits on the interface (its stack, another process) comes back as
            # PACKET_OUTGOING and is not ours to bridge; bridging it would also loop.
            if address[2] == socket.PACKET_OUTGOING or address[0] != port.name:
                continue
            if flags & _MSG_TRUNC:
                stats.truncated += 1
                continue
            frame = bytes(self._view[:n])
            flow = flow_key(frame, self._frame_offset) if model.config.first_extra > 0 else None
            model.arrive(self._arrival_time(ancdata), frame, flow)
        self._flush()

    def _arrival_time(self, ancdata: list[tuple[int, int, bytes]]) -> float:
        """When the frame reached the interface, on the loop's (monotonic) clock.

        The kernel stamps each frame on receipt (SO_TIMESTAMPNS, CLOCK_REALTIME), so the
        delay counts from the wire, not from when this process got round to reading it:
        a late wake-up of the reader does not add to the delay.
        """
        now = self._loop.time()
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack_from("qq", data)
                age = time.time() - (sec + nsec * 1e-9)
                # Guard against clock steps: trust only ages between 0 and 1 s.
                return now - min(max(float(age), 0.0), 1.0)
        return now

    def _recv_failed(self, port: _Port, exc: OSError) -> None:
        # ENETDOWN is reported once when the link goes down; the socket works again once it
        # is up. A vanished interface, though, leaves the socket dead for good.
        try:
            socket.if_nametoindex(port.name)
        except OSError:
            self.failure = f"interface {port.name} disappeared"
            self.stopped.set()
            return
        if exc.errno not in (errno.ENETDOWN, errno.EINVAL, errno.ENOBUFS):
            logger.warning("read on %s failed: %s", port.name, exc)

    def _flush(self) -> None:
        """Send everything due (or due within ``_EARLY_S``), then re-arm the timer."""
        assert self._ports is not None
        now = self._loop.time()
        for direction in Direction:
            out = self._ports[1 - direction]
            stats = self.stats[direction]
            for send in self.models[direction].due(now + _EARLY_S):
                stats.late_max = max(stats.late_max, now - send.at)
                try:
                    out.sock.send(send.frame)
                except OSError as exc:
                    # A full socket buffer or an oversized frame: a drop, like a busy link.
                    stats.send_errors += 1
                    logger.debug("send on %s failed: %s", out.name, exc)
                else:
                    stats.sent += 1
        self._arm()

    def _arm(self) -> None:
        times = [t for t in (m.next_time() for m in self.models) if t is not None]
        at = min(times) if times else math.inf
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at < math.inf:
            self._timer = self._loop.call_at(at - _PRECISE_S, self._on_timer)

    def _on_timer(self) -> None:
        at, self._timer, self._timer_at = self._timer_at, None, math.inf
        if self._ports is None:
            return
        remaining = at - self._loop.time()
        if remaining > _EARLY_S:
            time.sleep(min(remaining, _PRECISE_S))
        self._flush()


async def run_wire(options: WireOptions, *, ready: bool = True) -> str:
    """Bridge until SIGTERM/SIGINT or ``max_seconds``; return the summary line.

    Prints ``natprobe-wire ready`` on stdout once both sockets are bound (so a parent can
    wait for it). Raises :class:`LabError` if the sockets cannot be set up or an
    interface disappears while running.
    """
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    bridge = _Bridge(loop, options)
    handled: list[signal.Signals] = []
    try:
        bridge.open()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, bridge.stopped.set)
            handled.append(signum)
        if ready:
            print(f"natprobe-wire ready left={options.left} right={options.right}", flush=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(options.max_seconds):
                await bridge.stopped.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        bridge.close()
    summary = format_summary(
        options.seed, time.monotonic() - started, [m.counters for m in bridge.models], bridge.stats
    )
    if bridge.failure is not None:
        raise LabError(f"{bridge.failure}; {summary}")
    return summary


def _non_negative(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0.0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _percent(text: str) -> float:
    value = _non_negative(text)
    if value > 100.0:
        raise argparse.ArgumentTypeError(f"must be a percentage within 0..100, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _max_seconds(text: str) -> float:
    value = _non_negative(text)
    if not 0.0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"must be within (0, 604800] s, got {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m natprobe.lab.wire",
        description="Bridge two interfaces with AF_PACKET sockets, adding delay, jitter, "
        "reordering, duplication and loss in each direction (a netem substitute).",
    )
    p.add_argument("--left", required=True, help="first interface (up, no addresses)")
    p.add_argument("--right", required=True, help="second interface (up, no addresses)")
    p.add_argument("--delay-ms", type=_non_negative, default=0.0, help="one-way delay (default 0)")
    p.add_argument("--jitter-ms", type=_non_negative, default=0.0,
                   help="extra uniform delay in [0, jitter]; never reorders (default 0)")
    p.add_argument("--reorder-percent", type=_percent, default=0.0,
                   help="frames held back by --reorder-extra-ms so later ones overtake them")
    p.add_argument("--reorder-extra-ms", type=_non_negative, default=10.0,
                   help="how long a reordered frame is held back (default 10)")
    p.add_argument("--duplicate-percent", type=_percent, default=0.0,
                   help="frames sent twice (default 0)")
    p.add_argument("--duplicate-gap-ms", type=_non_negative, default=1.0,
                   help="time between a frame and its copy (default 1)")
    p.add_argument("--loss-percent", type=_percent, default=0.0, help="random loss (default 0)")
    p.add_argument("--first-extra-ms", type=_non_negative, default=0.0,
                   help="extra delay for the first frame of each IPv4 UDP/TCP flow (default 0)")
    p.add_argument("--seed", type=int, default=0, help="RNG seed (default 0)")
    p.add_argument("--max-seconds", type=_max_seconds, default=3600.0,
                   help="exit after this long (default 3600, at most 7 days)")
    p.add_argument("--max-queued-frames", type=_positive_int, default=4096,
                   help="per-direction queue cap in frames; more are dropped (default 4096)")
    p.add_argument("--max-queued-bytes", type=_positive_int, default=16 * 1024 * 1024,
                   help="per-direction queue cap in bytes (default 16 MiB)")
    p.add_argument("--no-vnet-hdr", action="store_true",
                   help="do not carry checksum/GSO metadata across "
                   "(then the peers' tx offloads must be off)")
    p.add_argument("--keep-offloads", action="store_true",
                   help="do not try 'ethtool -K IFACE ... off' on the two interfaces")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    return p


def parse_args(argv: Sequence[str] | None = None) -> tuple[WireOptions, bool]:
    """Parse the command line into options (exits with status 2 on bad input).

    Returns the options and whether verbose logging was asked for.
    """
    parser = _build_parser()
    ns = parser.parse_args(argv)
    if ns.left == ns.right:
        parser.error("--left and --right must be different interfaces")
    try:
        config = ImpairmentConfig(
            delay=ns.delay_ms / 1000.0,
            jitter=ns.jitter_ms / 1000.0,
            reorder=ns.reorder_percent / 100.0,
            reorder_extra=ns.reorder_extra_ms / 1000.0,
            duplicate=ns.duplicate_percent / 100.0,
            duplicate_gap=ns.duplicate_gap_ms / 1000.0,
            loss=ns.loss_percent / 100.0,
            first_extra=ns.first_extra_ms / 1000.0,
            max_queued_frames=ns.max_queued_frames,
            max_queued_bytes=ns.max_queued_bytes,
        )
    except ValueError as exc:
        parser.error(str(exc))
    options = WireOptions(
        left=ns.left,
        right=ns.right,
        config=config,
        seed=ns.seed,
        max_seconds=ns.max_seconds,
        vnet_hdr=not ns.no_vnet_hdr,
        offloads_off=not ns.keep_offloads,
    )
    return options, bool(ns.verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 after a clean stop, 1 if the wire could not run, 2 on bad usage."""
    options, verbose = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="natprobe-wire %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        summary = asyncio.run(run_wire(options))
    except LabError as exc:
        print(f"natprobe-wire error: {exc}", file=sys.stderr, flush=True)
        return 1
    print(summary, file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

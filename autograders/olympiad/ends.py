"""Which of two processes ended first, in the order the kernel recorded their ends.

problemtools' rule for an interactive test turns on it: a contestant that crashed before
the interactor gave its verdict gets its own verdict (RTE), an interactor that rejected
first gives WA. Each end causes the other (the interactor reads the end of its input and
rejects; the contestant reads the end of its input and crashes), so the two ends may be a
millisecond apart. A judge that notes the time when it notices each end (a thread woken,
a pid polled) gets that order wrong on a loaded machine.

The kernel's task statistics (taskstats, over generic netlink) send a message for each
process as it exits, before the process's descriptors are closed: a program's message is
queued before anything its end causes can happen (the other side cannot read the end of
its pipe yet). One listener hears every process of the machine end, in that order, and
however late it reads, the order stays the kernel's. It needs root (CAP_NET_ADMIN) in the
machine's own namespaces and a kernel with taskstats: ``listen`` returns None otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Self

NETLINK_GENERIC = 16
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
TASKSTATS_CMD_GET = 1
TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK = 3, 4
TASKSTATS_TYPE_PID, TASKSTATS_TYPE_TGID, TASKSTATS_TYPE_STATS = 1, 2, 3
TASKSTATS_TYPE_AGGR_PID, TASKSTATS_TYPE_AGGR_TGID = 4, 5
AC_PPID = 132  # where struct taskstats holds the parent's pid (the machine's own, at an exit)
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
RECEIVE_BUFFER = 32 << 20  # a busy machine's exits while the reader waits for the CPU
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_ATTR = struct.Struct("=HH")  # nlattr: length, type


class Ends:
    """A listener to every process's end, from before the processes it is asked about start.

    ``close`` once they have ended: it reads what the kernel queued up to then; ``first``
    then says which ended first. A pid is known by the last message that names it (as a
    process or as a thread group: a program's last thread to end names its group). Each
    message also names the process's parent: ``first_child`` finds a process the judge did
    not see start (a program that ended before the judge looked for it)."""

    def __init__(self, sock: socket.socket, family: int, cpus: str):
        self._sock, self._family, self._cpus = sock, family, cpus
        self._order: dict[int, int] = {}  # pid -> the number of the last message that named it
        self._first_child: dict[int, int] = {}  # pid -> the first of its children heard ending
        self._count = 0
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="sabaq-ends", daemon=True)
        self._reader.start()

    def first(self, a: int, b: int) -> int | None:
        """``a`` or ``b``, whichever the kernel saw end first; None if an end was not heard."""
        if a not in self._order or b not in self._order:
            return None
        return a if self._order[a] < self._order[b] else b

    def first_child(self, parent: int) -> int | None:
        """The first process heard ending while its parent was ``parent``."""
        return self._first_child.get(parent)

    def close(self) -> None:
        """Stop listening, having read every message queued until now."""
        self._stop.set()
        self._reader.join()
        self._sock.setblocking(False)
        with contextlib.suppress(OSError):
            while self._receive():
                pass
        with contextlib.suppress(OSError):
            self._sock.send(_request(self._family, TASKSTATS_CMD_GET, _attr(
                TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, self._cpus.encode() + b"\0")))
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self._receive()
            except TimeoutError:
                continue
            except OSError:
                return  # ``close`` reads what is left

    def _receive(self) -> bool:
        """One datagram's messages recorded; False when none was waiting."""
        try:
            data = self._sock.recv(1 << 16)
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno != errno.ENOBUFS:  # some messages were dropped: those read still keep their order
                raise
            return True
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind = _HEADER.unpack_from(data, offset)[:2]
            if length < _HEADER.size:
                break
            if kind == self._family:
                self._count += 1
                pids, parent = _pids(data[offset + _HEADER.size + 4:offset + length])
                for pid in pids:
                    self._order[pid] = self._count
                if pids and parent:
                    self._first_child.setdefault(parent, pids[0])
            offset += (length + 3) & ~3
        return True


def listen() -> Ends | None:
    """A listener registered for every CPU, or None where the kernel will not have one."""
    cpus = _possible_cpus()
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    except OSError:
        return None
    try:
        sock.bind((0, 0))
        try:
            sock.setsockopt(socket.SOL_SOCKET, 33, RECEIVE_BUFFER)  # SO_RCVBUFFORCE: past rmem_max, as root
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.settimeout(2.0)
        family = _family(sock)
        sock.send(_request(family, TASKSTATS_CMD_GET, _attr(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK,
                                                            cpus.encode() + b"\0"), NLM_F_REQUEST | NLM_F_ACK))
        if _error(sock.recv(1 << 16)):
            raise OSError("taskstats refused the listener")
        sock.settimeout(0.1)  # the reader looks at its stop flag this often
    except OSError:
        sock.close()
        return None
    return Ends(sock, family, cpus)


def _family(sock: socket.socket) -> int:
    """The number generic netlink gave the TASKSTATS family on this kernel."""
    sock.send(_request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, _attr(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0")))
    data = sock.recv(1 << 16)
    if _error(data):
        raise OSError("no taskstats in this kernel")
    for kind, value in _attrs(data[_HEADER.size + 4:_HEADER.unpack_from(data)[0]]):
        if kind == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("=H", value)[0]
    raise OSError("no taskstats in this kernel")


def _pids(payload: bytes) -> tuple[list[int], int | None]:
    """The pids and thread groups a taskstats message names (inside its aggregates), the
    process first; and the parent of the process that ended."""
    found, parent = [], None
    for kind, value in _attrs(payload):
        if kind not in (TASKSTATS_TYPE_AGGR_PID, TASKSTATS_TYPE_AGGR_TGID):
            continue
        for inner_kind, inner in _attrs(value):
            if inner_kind in (TASKSTATS_TYPE_PID, TASKSTATS_TYPE_TGID) and len(inner) >= 4:
                found.append(struct.unpack_from("=I", inner)[0])
            elif inner_kind == TASKSTATS_TYPE_STATS and kind == TASKSTATS_TYPE_AGGR_PID and len(inner) >= AC_PPID + 4:
                parent = struct.unpack_from("=I", inner, AC_PPID)[0]
    return found, parent


def _attrs(data: bytes):
    offset = 0
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            return
        yield kind & 0x3FFF, data[offset + _ATTR.size:offset + length]  # without the nested and byte-order flags
        offset += (length + 3) & ~3


def _attr(kind: int, value: bytes) -> bytes:
    length = _ATTR.size + len(value)
    return _ATTR.pack(length, kind) + value + b"\0" * (-length % 4)


def _request(family: int, command: int, payload: bytes, flags: int = NLM_F_REQUEST) -> bytes:
    body = struct.pack("=BBH", command, 1, 0) + payload
    return _HEADER.pack(_HEADER.size + len(body), family, flags, 1, 0) + body


def _error(data: bytes) -> int:
    """The error number of a netlink answer (0: none, or not an error message)."""
    if _HEADER.unpack_from(data)[1] != NLMSG_ERROR:
        return 0
    return -struct.unpack_from("=i", data, _HEADER.size)[0]


def _possible_cpus() -> str:
    """Every CPU the kernel may run a process on, as a cpulist ("0-1")."""
    try:
        return Path("/sys/devices/system/cpu/possible").read_text().strip()
    except OSError:
        return f"0-{(os.cpu_count() or 1) - 1}"

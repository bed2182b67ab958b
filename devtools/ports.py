"""Loopback ports for the tests' and benchmarks' own `sabaq up`s, which never collide.

Asking the system for a free port (binding port 0) and closing the socket leaves a gap: until
the stack binds it, the same port may be handed to another process that asks. Two pytest-xdist
processes starting stacks at once met that way ("Port … already in use"). So under xdist each
process takes its ports from a block of its own below the system's ephemeral range (where no
outgoing connection takes them either), and every process remembers what it handed out."""

from __future__ import annotations

import os
import re
import socket

BLOCKS_START = 20000
BLOCK_SIZE = 1500  # eight blocks end at 32000, below Linux's ephemeral range (32768-60999)
BLOCKS = 8

_handed_out: set[int] = set()


def xdist_process_number(environ: dict | None = None) -> int | None:
    """0 for pytest-xdist's "gw0", 1 for "gw1", …; None outside xdist."""
    match = re.fullmatch(r"gw(\d+)", (environ if environ is not None else os.environ).get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _from_the_system() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _candidates(environ: dict | None = None):
    number = xdist_process_number(environ)
    if number is None:
        while True:
            yield _from_the_system()
    start = BLOCKS_START + (number % BLOCKS) * BLOCK_SIZE
    offset = os.getpid() % BLOCK_SIZE  # a rerun of the same process number starts elsewhere
    for step in range(BLOCK_SIZE):
        yield start + (offset + step) % BLOCK_SIZE
    raise RuntimeError(f"no free port left in {start}-{start + BLOCK_SIZE - 1}")


def free_port(environ: dict | None = None) -> int:
    """A loopback port that is free now and was not handed out before by this process."""
    for port in _candidates(environ):
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free loopback port")  # the system had none either


def local_up_environment(homes: str, user_prefix: str, **settings: str) -> dict[str, str]:
    """The environment of a `sabaq up` of a test or a benchmark: this process's, with the hub,
    its API, the proxy's API and the service on free loopback ports, students' homes under
    ``homes`` and system accounts named with ``user_prefix``; ``settings`` (SABAQ_… variables)
    override any of these."""
    environ = dict(
        os.environ,
        SABAQ_HUB_PORT=str(free_port()),
        SABAQ_HUB_API_PORT=str(free_port()),
        SABAQ_HUB_PROXY_API_PORT=str(free_port()),
        SABAQ_SERVICE_PORT=str(free_port()),
        SABAQ_SPAWNER_HOME_ROOT=str(homes),
        SABAQ_SPAWNER_USER_PREFIX=user_prefix,
        SABAQ_DEMO_ALSO="[]",  # the olympiad course is seeded only where a test asks for it
        SABAQ_LANG="en",  # the terminal's language: the launcher's lines waited for are English
    )
    environ.update(settings)
    return environ

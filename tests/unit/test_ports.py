"""Ports for the tests' own stacks: two pytest-xdist processes never get the same one."""

import socket

from sabaq.devtools import ports


def test_xdist_processes_take_ports_from_blocks_of_their_own():
    first = {ports.free_port({"PYTEST_XDIST_WORKER": "gw0"}) for _ in range(20)}
    second = {ports.free_port({"PYTEST_XDIST_WORKER": "gw1"}) for _ in range(20)}
    assert len(first) == len(second) == 20  # never the same port twice in a process
    assert max(first) < min(second)  # gw0's block lies wholly below gw1's
    assert all(port < 32768 for port in first | second)  # below the system's ephemeral range


def test_a_port_in_use_is_passed_over(monkeypatch):
    monkeypatch.setattr(ports.os, "getpid", lambda: 0)  # the block is walked from its start
    environ = {"PYTEST_XDIST_WORKER": "gw3"}
    taken = ports.free_port(environ)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", taken + 1))
        s.listen()
        ports._handed_out.discard(taken + 1)
        assert ports.free_port(environ) == taken + 2


def test_outside_xdist_the_system_chooses():
    assert ports.xdist_process_number({}) is None
    assert ports.xdist_process_number({"PYTEST_XDIST_WORKER": "gw12"}) == 12
    port = ports.free_port({})
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # it was free

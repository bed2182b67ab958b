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


def test_a_local_up_gets_four_distinct_ports_and_its_settings_win(tmp_path):
    environ = ports.local_up_environment(tmp_path, "t1-", SABAQ_LANG="ru", SABAQ_WORKER_COUNT="2")
    chosen = [environ[k] for k in ("SABAQ_HUB_PORT", "SABAQ_HUB_API_PORT", "SABAQ_HUB_PROXY_API_PORT",
                                   "SABAQ_SERVICE_PORT")]
    assert len(set(chosen)) == 4
    assert environ["SABAQ_SPAWNER_HOME_ROOT"] == str(tmp_path) and environ["SABAQ_SPAWNER_USER_PREFIX"] == "t1-"
    assert environ["SABAQ_LANG"] == "ru" and environ["SABAQ_WORKER_COUNT"] == "2"

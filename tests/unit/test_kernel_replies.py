"""ipykernel 7.3 leaves a shell request unread when it arrives while a reply is sent raw on the
socket its stream reads (sabaq.hub.jupyterhub.kernelreplies): a lesson's set-up cells sent, the
kernel idle, nothing run. The window is made here without a race, as ipykernel's own test of its
fix (PR 1529) makes it: a request queued on the ROUTER whose read signal was already consumed,
then a reply sent by the shell channel thread's code; the request must still reach the stream.
Real kernels loading the fix: tests/unit/test_lesson_kernel.py and tests/test_warm_kernels.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import ipykernel
import pytest
import zmq
from ipykernel.subshell_manager import SubshellManager
from ipykernel.thread import SHELL_CHANNEL_THREAD_NAME
from tornado.ioloop import IOLoop
from zmq.eventloop.zmqstream import ZMQStream

from sabaq.hub.jupyterhub import kernelreplies

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]


def on_loop(loop: IOLoop, func):
    """``func()`` run on the loop's thread; its result, or its exception raised here."""
    box: dict = {}
    done = threading.Event()

    def runner():
        try:
            box["result"] = func()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e
        finally:
            done.set()

    loop.add_callback(runner)
    assert done.wait(TIMEOUT), "the shell channel's loop did not run the callback"
    if "error" in box:
        raise box["error"]
    return box.get("result")


@pytest.fixture
def shell_channel():
    """A shell ROUTER read by a ZMQStream on a loop in a thread named as ipykernel's shell channel
    thread, a client connected to it, and what the stream received."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    client = context.socket(zmq.DEALER)
    client.setsockopt(zmq.IDENTITY, b"browser")
    client.connect(f"tcp://127.0.0.1:{port}")
    started, box = threading.Event(), {}

    def run_loop():
        asyncio.set_event_loop(asyncio.new_event_loop())
        box["loop"] = IOLoop.current()
        box["loop"].add_callback(started.set)
        box["loop"].start()

    thread = threading.Thread(target=run_loop, name=SHELL_CHANNEL_THREAD_NAME, daemon=True)
    thread.start()
    assert started.wait(TIMEOUT)
    loop, received, arrived = box["loop"], [], threading.Event()

    def make_stream():
        stream = ZMQStream(router, loop)
        stream.on_recv(lambda frames: (received.append(frames), arrived.set()), copy=True)
        return stream

    stream = on_loop(loop, make_stream)
    made = []
    try:
        yield {"context": context, "router": router, "client": client, "loop": loop, "stream": stream,
               "received": received, "arrived": arrived, "managers": made}
    finally:
        for manager in made:
            on_loop(loop, manager.close)
        on_loop(loop, stream.close)
        loop.add_callback(loop.stop)
        thread.join(TIMEOUT)
        client.close(linger=0)
        router.close(linger=0)
        context.term()


def reply_while_a_request_waits(channel, manager) -> bool:
    """Whether a request queued while the manager sends a reply reaches the stream."""
    client, router, received, arrived = channel["client"], channel["router"], channel["received"], channel["arrived"]
    client.send_multipart([b"first"])  # the ROUTER learns the client's route; the stream reads it
    assert arrived.wait(TIMEOUT)
    route = received[0][0]
    received.clear()
    arrived.clear()

    def queue_then_reply():
        # on the loop's thread: the stream cannot read between these steps
        client.send_multipart([b"execute_request"])
        deadline = time.monotonic() + TIMEOUT
        while not router.events & zmq.POLLIN:  # reading the events consumes the read signal
            assert time.monotonic() < deadline, "the request never reached the ROUTER"
        assert not arrived.is_set()
        manager._send_on_shell_channel([route, b"kernel_info_reply"])

    on_loop(channel["loop"], queue_then_reply)
    return arrived.wait(1.0) and received[-1][-1] == b"execute_request"


def make_manager(channel) -> SubshellManager:
    manager = SubshellManager(channel["context"], channel["loop"], channel["router"])
    channel["managers"].append(manager)
    return manager


def test_ipykernels_own_reply_leaves_the_request_unread(shell_channel):
    """Why the fix is there: the ipykernel sabaq installs strands the request."""
    assert kernelreplies.sends_raw(ipykernel.__version__)
    assert not reply_while_a_request_waits(shell_channel, make_manager(shell_channel))


def test_a_reply_sent_through_the_stream_leaves_no_request_unread(shell_channel, monkeypatch):
    monkeypatch.setattr(SubshellManager, "_send_on_shell_channel", SubshellManager._send_on_shell_channel)
    kernelreplies.send_replies_through_streams()
    manager = make_manager(shell_channel)  # made after the fix, as a kernel's is
    setattr(manager, kernelreplies.STREAM, shell_channel["stream"])
    assert reply_while_a_request_waits(shell_channel, manager)


def test_only_the_ipykernels_that_send_raw_are_fixed():
    assert kernelreplies.sends_raw("7.3.0") and kernelreplies.sends_raw("7.0.1")
    assert not kernelreplies.sends_raw("7.4.0") and not kernelreplies.sends_raw("6.29.5")
    assert not kernelreplies.sends_raw("8.0.0")


def test_every_kernel_of_the_environment_loads_the_fix():
    """The configuration IPython reads from the environment's etc/ipython names the extension,
    and both installs put it there (the package's data files; install.sh links it in editable mode)."""
    import tomllib

    config = ROOT / "hub" / "jupyterhub" / "ipython_kernel_config.json"
    assert json.loads(config.read_text())["InteractiveShellApp"]["extensions"] == [kernelreplies.MODULE]
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data_files["etc/ipython"] == ["hub/jupyterhub/ipython_kernel_config.json"]
    assert "hub/jupyterhub/ipython_kernel_config.json\" \"$PREFIX/venv/etc/ipython/" in (ROOT / "scripts" / "install.sh").read_text()

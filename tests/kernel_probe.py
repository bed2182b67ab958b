"""Run as a student's account by tests/test_warm_kernels.py, in place of her server: start a kernel
through jupyter_client's kernel managers, as jupyter_server does (the provisioner named by the
configuration), look at it, and print what was seen as JSON.

    python kernel_probe.py SOCKET_OR_EMPTY ACTIONS...   (actions: look, interrupt, restart, kill, leave)
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import sys
import time

from jupyter_client.multikernelmanager import AsyncMultiKernelManager
from traitlets.config import Config

LOOK = """
import json, os, sys, numpy, random, comm, ipywidgets, jedi.settings, parso.cache, tempfile, time

def _read(path):
    try:
        return open(path).read()
    except OSError as e:
        return type(e).__name__

def _replies():
    kernel = get_ipython().kernel
    manager = kernel.shell_channel_thread.manager
    return [type(manager)._send_on_shell_channel.__module__, getattr(manager, "_sabaq_shell_stream", None) is kernel.shell_stream]

def _look():
    return json.dumps({"uid": os.getresuid(), "gid": os.getresgid(), "groups": sorted(os.getgroups()),
                       "cwd": os.getcwd(), "env": dict(os.environ), "pid": os.getpid(), "sid": os.getsid(0),
                       "pgid": os.getpgid(0), "path0": sys.path[:2], "random": random.random(),
                       "numpy_random": float(numpy.random.random()), "threads": len(os.listdir("/proc/self/task")),
                       "comm_targets": sorted(comm.get_comm_manager().targets), "replies": _replies(),
                       "caches": [jedi.settings.cache_directory, str(parso.cache._default_cache_path)],
                       "tempdir": tempfile.gettempdir(), "tzname": time.tzname, "secret": _read(os.environ["PROBE_SECRET"])})
"""


async def value(client, expression: str, code: str = "", timeout: float = 60):
    """Execute ``code``, then the value of ``expression`` in the kernel (from the reply itself:
    printed output may come after the kernel says it is idle)."""
    msg_id = client.execute(code, user_expressions={"value": expression})
    reply = (await reply_to(client, msg_id, timeout))["content"]
    if reply["status"] != "ok":
        return {"error": reply.get("ename")}
    result = reply["user_expressions"]["value"]
    return ast.literal_eval(result["data"]["text/plain"]) if result["status"] == "ok" else {"error": result["ename"]}


async def reply_to(client, msg_id: str, timeout: float) -> dict:
    """The shell channel's reply to this request (an earlier request's late reply is passed over)."""
    while True:
        reply = await client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def descriptors(pid: int) -> dict[int, str]:
    """fd -> what it is (a file's path, socket:[inode], pipe:[inode] ...)."""
    targets = {}
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            targets[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass
    return targets


def kinds(targets: dict[int, str]) -> list[str]:
    """Descriptors by kind (a socket's or pipe's number differs from kernel to kernel)."""
    return [f"{fd}:{target.split(':')[0]}" for fd, target in targets.items()]


def proc_strings(pid: int, what: str) -> list[str]:
    with open(f"/proc/{pid}/{what}", "rb") as f:
        return [s.decode() for s in f.read().split(b"\0") if s]


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


async def main(socket_path: str, actions: list[str]) -> dict:
    config = Config()
    if socket_path:
        config.KernelProvisionerFactory.default_provisioner_name = "sabaq-warm-kernel"
        config.WarmKernelProvisioner.fork_server_socket = socket_path
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # what the provisioner says, as a server logs it
    manager = AsyncMultiKernelManager(config=config, log=logging.getLogger("server"))
    seen: dict = {"started": time.monotonic()}
    kernel_id = await manager.start_kernel(kernel_name="python3", cwd=os.getcwd())
    km = manager.get_kernel(kernel_id)
    client = km.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    seen["ready_after"] = time.monotonic() - seen.pop("started")
    pid = km.provisioner.pid
    seen.update(provisioner=type(km.provisioner).__name__, pid=pid, parent=parent_of(pid), server=os.getpid(),
                fds=kinds(descriptors(pid)), fd_targets=list(descriptors(pid).values()),
                cmdline=proc_strings(pid, "cmdline"))
    for action in actions:
        if action == "look":
            seen["look"] = json.loads(await value(client, "_look()", LOOK))
        elif action == "interrupt":
            msg_id = client.execute("while True:\n    pass", stop_on_error=False)  # what follows is not aborted
            await asyncio.sleep(1)
            await km.interrupt_kernel()
            reply = await reply_to(client, msg_id, 60)
            seen["interrupt"] = reply["content"].get("ename")
            seen["after_interrupt"] = await value(client, "6 * 7")
        elif action == "restart":
            await km.restart_kernel()
            await client.wait_for_ready(timeout=120)
            seen["restarted_pid"] = km.provisioner.pid
            seen["restarted_parent"] = parent_of(km.provisioner.pid)
            seen["old_alive_after_restart"] = os.path.exists(f"/proc/{pid}")
            seen["after_restart"] = await value(client, "6 * 7")
        elif action == "kill":
            last = km.provisioner.pid
            await km.shutdown_kernel(now=True)
            seen["killed_alive"] = await km.is_alive()
            seen["killed_gone"] = not os.path.exists(f"/proc/{last}")  # reaped too: no zombie left
            seen["has_process"] = km.provisioner.has_process if km.provisioner else False
        elif action == "leave":  # the server dies without a word: its kernel must go too
            print(json.dumps(seen), flush=True)
            os._exit(0)
    client.stop_channels()
    if await km.is_alive():
        await km.shutdown_kernel(now=True)
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2:]))), flush=True)

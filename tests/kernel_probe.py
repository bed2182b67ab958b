"""Run as a student's account by tests/test_warm_kernels.py, in place of her server: start a kernel
through jupyter_client's kernel managers, as jupyter_server does (the provisioner named by the
configuration), look at it, and print what was seen as JSON.

    python kernel_probe.py SOCKET_OR_EMPTY ACTIONS...   (actions: look, interrupt, restart, kill, leave)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time

from jupyter_client.multikernelmanager import AsyncMultiKernelManager
from traitlets.config import Config

LOOK = """
import json, os, sys, numpy, random, comm, ipywidgets, jedi.settings, parso.cache
print(json.dumps({"uid": os.getresuid(), "gid": os.getresgid(), "groups": sorted(os.getgroups()),
                  "cwd": os.getcwd(), "env": dict(os.environ), "pid": os.getpid(), "sid": os.getsid(0),
                  "pgid": os.getpgid(0), "path0": sys.path[:2], "random": random.random(),
                  "numpy_random": float(numpy.random.random()), "threads": len(os.listdir("/proc/self/task")),
                  "comm_targets": sorted(comm.get_comm_manager().targets),
                  "caches": [jedi.settings.cache_directory, str(parso.cache._default_cache_path)],
                  "secret": _read(os.environ["PROBE_SECRET"])}))
"""
READ = """
def _read(path):
    try:
        return open(path).read()
    except OSError as e:
        return type(e).__name__
"""


async def run(client, code: str, timeout: float = 60) -> dict:
    """Execute ``code``; its stdout and the reply's status and error name."""
    msg_id = client.execute(code)
    out = []
    deadline = time.monotonic() + timeout
    while True:
        msg = await client.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = await reply_to(client, msg_id, timeout)
    return {"stdout": "".join(out), "status": reply["content"]["status"], "error": reply["content"].get("ename")}


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
    await run(client, READ)
    for action in actions:
        if action == "look":
            result = await run(client, LOOK)
            seen["look"] = json.loads(result["stdout"].strip().splitlines()[-1]) if result["status"] == "ok" else result
        elif action == "interrupt":
            msg_id = client.execute("while True:\n    pass")
            await asyncio.sleep(1)
            await km.interrupt_kernel()
            reply = await reply_to(client, msg_id, 60)
            seen["interrupt"] = reply["content"].get("ename")
            seen["after_interrupt"] = (await run(client, "print(6 * 7)"))["stdout"].strip()
        elif action == "restart":
            await km.restart_kernel()
            await client.wait_for_ready(timeout=120)
            seen["restarted_pid"] = km.provisioner.pid
            seen["restarted_parent"] = parent_of(km.provisioner.pid)
            seen["old_alive_after_restart"] = os.path.exists(f"/proc/{pid}")
            seen["after_restart"] = (await run(client, "print(6 * 7)"))["stdout"].strip()
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

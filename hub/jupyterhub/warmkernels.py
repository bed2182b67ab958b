"""The kernel provisioner of users' servers that starts their Python kernels warm.

jupyter_client's plug-in point for how a kernel is started: ``sabaq-warm-kernel`` (``PROVISIONER``, an entry point
of ``jupyter_client.kernel_provisioners``), chosen for every kernelspec by sabaq's local spawner
(``--KernelProvisionerFactory.default_provisioner_name``). The stock python3 kernel is asked of
the hub's kernel fork server (``sabaq.hub.jupyterhub.kernelfork``); any other kernel, or any
failure to get a warm one, starts cold as jupyter_client's local provisioner starts it (logged).

A warm kernel is not the server's child: it is held by a pidfd (a handle on that very process,
never on a later one given its pid), and signalled in its process group, as a cold one is.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Unicode

from sabaq.hub.jupyterhub.kernelfork import WarmKernelUnavailable, ask_for_kernel, can_start_warm


class WarmKernel:
    """What jupyter_client's local provisioner uses of its ``Popen``, for a kernel held by a pidfd.

    Its exit code cannot be read (only a parent can): after a signal this side sent that ends
    a process, it is that signal's, negative, as Popen says; otherwise 0."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None
        self._last_signal = 0

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            select.select([self.pidfd], [], [], timeout)
            if self.poll() is None:
                raise TimeoutError(f"kernel {self.pid} still runs")
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            signal.pidfd_send_signal(self.pidfd, signum)
            self._last_signal = signum

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _ended(self) -> None:
        ending = self._last_signal in (signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
        self.returncode = -self._last_signal if ending else 0
        os.close(self.pidfd)


class WarmKernelProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the stock python3 kernel forked warm."""

    fork_server_socket = Unicode(
        "",
        help="The unix socket of the hub's kernel fork server (sabaq.hub.jupyterhub.kernelfork), set by "
        "sabaq's spawner. Empty: every kernel starts cold.",
    ).tag(config=True)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        env = dict(kwargs.get("env") or os.environ)
        env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher gives a kernel
        cwd = str(kwargs.get("cwd") or os.getcwd())
        if self.fork_server_socket and can_start_warm(cmd, env):
            try:
                pid, pidfd = await asyncio.to_thread(ask_for_kernel, self.fork_server_socket, cmd, env, cwd)
            except WarmKernelUnavailable as e:
                self.log.warning("Kernel %s starts cold: %s", self.kernel_id, e)
            else:
                self.log.info("Kernel %s started warm: pid %s", self.kernel_id, pid)
                self.process, self.pid, self.pgid, self.cwd = WarmKernel(pid, pidfd), pid, pid, cwd
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

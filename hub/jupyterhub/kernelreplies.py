"""Kernels that never leave a request unread: ipykernel 7.3's shell replies sent through the stream.

ipykernel 7 reads shell requests through a ``ZMQStream`` on its shell ROUTER socket, but its
shell channel thread sends the replies raw on that socket (``SubshellManager._send_on_shell_channel``).
A raw send consumes the socket's edge-triggered read signal without the stream noticing, so a
request that arrives while a reply is being sent stays unread: the kernel says "idle" and runs
nothing until another client connects (ipykernel issues 1529 and 1554). Every new browser
connection meets that window: jupyter_server nudges the kernel with a ``kernel_info_request``
whose reply is sent as the page's first requests arrive. In a lesson it looked like this: the
set-up cells sent, the kernel idle, nothing run, Run All doing nothing either.

ipykernel 7.4 sends replies through the stream (ipykernel's PR 1529), but it also dispatches
widget messages concurrently (a self-check would check the answer typed before; sabaq pins
ipykernel below 7.4). This IPython extension makes 7.3 send as 7.4 does. sabaq's
``ipython_kernel_config.json`` (in the environment's ``etc/ipython``, read by every kernel that
Python runs: students' and teachers', warm and cold, and the kernels of lesson checks) loads it.
Another ipykernel (one with the fix, or 6.x without the shell channel thread) is left alone.
"""

from __future__ import annotations

from typing import Any

MODULE = __name__  # what the kernel configuration names in InteractiveShellApp.extensions
STREAM = "_sabaq_shell_stream"  # the manager's attribute holding the stream to send through


def sends_raw(version: str) -> bool:
    """Whether this ipykernel sends shell replies raw on the socket its stream reads (7.0 to 7.3)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return major == 7 and minor < 4


def _send_through_stream(manager: Any, msg: list) -> None:
    """``SubshellManager._send_on_shell_channel`` as ipykernel 7.4 has it: through the stream,
    which reads a request that arrived meanwhile before it re-arms; raw only where no stream was
    given (a manager that is not a kernel's)."""
    stream = getattr(manager, STREAM, None)
    if stream is None:
        manager._shell_socket.send_multipart(msg)
    else:
        stream.send_multipart(msg)


def send_replies_through_streams() -> None:
    """Make every SubshellManager made from now on send through the stream in its ``STREAM``
    attribute: a manager registers its bound sending method when it is made."""
    from ipykernel.subshell_manager import SubshellManager

    SubshellManager._send_on_shell_channel = _send_through_stream


def load_ipython_extension(shell: Any) -> None:
    """Loaded by IPython as the kernel starts (after its sockets and threads, before its first
    request): its subshell manager is made now, on the main thread as ipykernel asks, so that the
    reply callback it registers is the fixed one."""
    import ipykernel

    kernel = getattr(shell, "kernel", None)
    thread = getattr(kernel, "shell_channel_thread", None)
    if thread is None or getattr(kernel, "shell_stream", None) is None or not sends_raw(ipykernel.__version__):
        return
    send_replies_through_streams()
    setattr(thread.manager, STREAM, kernel.shell_stream)

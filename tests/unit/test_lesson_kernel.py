"""A lesson's self-check in a real Jupyter kernel, driven by the messages a browser sends.

A student types an answer and presses Check: the browser sends the answer box's new
value, then the button's click, back to back. Each click must check the answer sent
just before it, or a student is told a right answer is wrong.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

PROJECTILE = Path(__file__).resolve().parents[2] / "courses" / "lessons" / "physics" / "projectile-motion"


@pytest.fixture(scope="module")
def kernel():
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> str:
    """Execute code; return what it printed (and fail on an error)."""
    printed = []

    def output(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))

    reply = client.execute_interactive(code, timeout=120, output_hook=output)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(printed)


def send_to_widget(client, comm_id: str, data: dict) -> None:
    """A comm message from the 'browser', without waiting for the kernel's answer."""
    content = {"comm_id": comm_id, "data": data}
    client.shell_channel.send(client.session.msg("comm_msg", content))


def test_each_check_sees_the_answer_typed_just_before_it(kernel):
    name = f"w_{uuid.uuid4().hex[:8]}"
    ids = run(kernel, f"""
from sabaq.lessons import Lesson
{name} = Lesson(lang="en", folder={str(PROJECTILE)!r}).check("q2")
print({name}.input.model_id, {name}.button.model_id)
""").split()
    text, button = ids
    answers = ["3 s", "1.5 s"] * 10  # wrong, right, wrong, ... each different from the one before
    for answer in answers:  # typed and checked as fast as a browser sends them
        send_to_widget(kernel, text, {"method": "update", "state": {"value": answer}, "buffer_paths": []})
        send_to_widget(kernel, button, {"method": "custom", "content": {"event": "click"}})
    result = run(kernel, f"print({name}.attempts, {name}.progress.wrong, {name}.result.correct)").split()
    # every click counted its own answer: none was checked against the answer before it
    assert result == [str(len(answers)), str(len(answers) // 2), "True"]


def test_a_lessons_kernel_sends_its_shell_replies_through_the_stream_that_reads_requests(kernel):
    """Else a request arriving as a reply is sent stays unread (sabaq.hub.jupyterhub.kernelreplies)."""
    assert run(kernel, """
kernel = get_ipython().kernel
manager = kernel.shell_channel_thread.manager
print(type(manager)._send_on_shell_channel.__module__, getattr(manager, "_sabaq_shell_stream", None) is kernel.shell_stream)
""").split() == ["sabaq.hub.jupyterhub.kernelreplies", "True"]

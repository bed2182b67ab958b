"""End to end (issue 15, item 7): in a real teacher's server, nbgrader's own autograde refuses
to run a collected submission, from her terminal and from the formgrader's Autograde button,
in her language and with the assignment's page in sabaq; the submission's code, which writes
a file and copies her hub token, never runs. Then the teacher overrides the refusal on
purpose, and the same submission does run as her: the setup is one where it would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sabaq.errors import SabaqError
from sabaq.hub.exchange.autograde import REFUSAL

pytestmark = pytest.mark.e2e
ASSIGNMENT = "ag7"
DEMO_SOURCE = Path(__file__).resolve().parents[1] / "courses" / "demo" / "source" / "ps1" / "motion.ipynb"
PAGE = f"/services/sabaq/courses/demo/assignments/{ASSIGNMENT}"

# Run in the teacher's kernel, as her terminal would: the demo's source (SOURCE) as a new assignment,
# released to sabaq, a hostile submission collected into submitted/, then `nbgrader autograde`
# with ARGS.
SCRIPT = """
import json, os, pathlib, subprocess, sys
course = pathlib.Path.home() / "demo"
marker = pathlib.Path.home() / "ag7-marker"
source = course / "source" / "ag7"
if not source.exists():
    source.mkdir(parents=True)
    (source / "motion.ipynb").write_text(SOURCE)
    for step in (["generate_assignment", "ag7", "--force"], ["release_assignment", "ag7"]):
        subprocess.run([sys.executable, "-m", "nbgrader", *step], cwd=course, check=True, capture_output=True)
    nb = json.loads((source / "motion.ipynb").read_text())
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "speed")
    answer["source"] = ("import os, pathlib\\n"
                        f"pathlib.Path({str(marker)!r}).write_text(os.environ['JUPYTERHUB_API_TOKEN'])\\n"
                        "def speed(s, t):\\n    return s / t\\n")
    submitted = course / "submitted" / "aliya" / "ag7"
    submitted.mkdir(parents=True)
    (submitted / "motion.ipynb").write_text(json.dumps(nb))
    (submitted / "timestamp.txt").write_text("2026-12-05 09:00:00.000000 UTC")
run = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ag7", *ARGS],
                     cwd=course, capture_output=True, text=True)
print(json.dumps({"code": run.returncode, "output": run.stdout + run.stderr, "lang": os.environ["SABAQ_LANG"],
                  "token": os.environ["JUPYTERHUB_API_TOKEN"], "marker": marker.exists()}))
"""


def autograde_in_terminal(stack, *args: str) -> dict:
    source = DEMO_SOURCE.read_text(encoding="utf-8")
    printed = stack.run_code("teacher", f"ARGS = {list(args)!r}\nSOURCE = {source!r}\n" + SCRIPT, timeout=240)
    last = (printed.strip().splitlines() or [""])[-1]
    assert last.startswith("{"), printed  # else the kernel's traceback
    return json.loads(last)


def test_no_students_code_runs_as_the_teacher(stack):
    stack.start_server("teacher")
    marker = Path(stack.homes) / stack.system_user("teacher") / "ag7-marker"

    # `nbgrader autograde` in her terminal
    ran = autograde_in_terminal(stack)
    refusal = SabaqError(REFUSAL, url=PAGE).translated(ran["lang"])
    assert ran["code"] == 1 and refusal in ran["output"], ran["output"]
    assert not ran["marker"] and not marker.exists()

    # the formgrader's Autograde button (a token-authenticated request needs no XSRF value)
    lab = stack.hub_api(stack.token("teacher"))
    lab.base_url = f"{stack.url}/user/teacher"
    r = lab.post(f"/formgrader/api/submission/{ASSIGNMENT}/aliya/autograde")
    assert r.status_code == 200, r.text
    assert r.json()["success"] is False and refusal in r.json()["log"], r.text
    assert not marker.exists()
    assert not (Path(stack.homes) / stack.system_user("teacher") / "demo" / "autograded").exists()

    # the page the message names is the assignment's, with "grade again" on it
    page = stack.api("teacher").get(stack.url + PAGE)
    assert page.status_code == 200 and f"{ASSIGNMENT}/regrade" in page.text

    # overridden on purpose, the same autograde runs the submission as her, token and all
    ran = autograde_in_terminal(stack, "--Autograde.exporter_class=nbconvert.exporters.NotebookExporter")
    assert ran["marker"], ran["output"]
    assert marker.read_text() == ran["token"]

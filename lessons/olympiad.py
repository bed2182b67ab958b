"""In a task's notebook: test the solution on the samples, submit it, show the verdict.

The notebook's solution cell saves ``solution.py``; ``check_samples()`` runs it
on ``samples/*.in`` right here (the student's own program in their own server),
``submit()`` sends it to sabaq with the server's hub token and waits for the
judge. Both work from the folder the notebook was fetched into (``task.json``).

An interactive task (``"interactive": true`` in task.json) ships its interactor in
``interactor/`` (a Python one: it runs here, with the student's Python): each sample
runs the program and the interactor joined by two pipes, as the judge does, and the
interactor's exit code (42 accepted, 43 wrong) and message decide.
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sabaq.i18n import N_, translator

VERDICT_NAMES = {  # shown translated
    "AC": N_("Accepted"), "WA": N_("Wrong answer"), "TLE": N_("Time limit exceeded"),
    "MLE": N_("Memory limit exceeded"), "RTE": N_("Run-time error"), "CE": N_("Compilation error"),
}


class Task:
    """The fetched task folder: task.json, samples/, solution.py, the notebook."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder or os.getcwd())
        self.lang = os.environ.get("SABAQ_LANG", "en")
        meta = self.folder / "task.json"
        if not meta.exists():
            raise FileNotFoundError(self._("This folder has no task.json: open the notebook from the task folder "
                                           "you fetched."))
        self.meta = json.loads(meta.read_text(encoding="utf-8"))
        notebook = self.folder / f"{self.meta.get('assignment', '')}.ipynb"
        try:  # the fetched notebook is in the student's language
            self.lang = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["sabaq"]["language"]
        except (OSError, ValueError, KeyError):
            pass

    def _(self, message: str) -> str:
        return translator(self.lang)(message)

    def solution(self) -> bytes:
        path = self.folder / "solution.py"
        if not path.exists():
            raise FileNotFoundError(self._("There is no solution.py yet: run your solution cell first."))
        return path.read_bytes()


def _show(html_text: str, text: str) -> None:
    try:
        from IPython.display import HTML, display

        display(HTML(html_text))
    except ImportError:
        print(text)


def check_samples(folder: str | os.PathLike | None = None, show: bool = True) -> list[dict]:
    """Run solution.py on every sample; a row per sample: verdict, time, output."""
    from sabaq.kattis.compare import default_validate

    task = Task(folder)
    _ = task._
    task.solution()
    rows = []
    limit = float(task.meta.get("time_limit", 1.0))
    for sample in sorted((task.folder / "samples").glob("*.in")):
        if task.meta.get("interactive"):
            rows.append(_interactive_sample(task, sample, limit))
            continue
        wanted = sample.with_suffix(".ans").read_bytes()
        start = time.monotonic()
        try:
            entry = task.meta.get("entry", "solution.py")  # a grader that imports the function, or the program
            proc = subprocess.run([sys.executable, entry], input=sample.read_bytes(), capture_output=True,
                                  cwd=task.folder, timeout=limit * 3 + 1)
            seconds = time.monotonic() - start
            if proc.returncode != 0:
                verdict, note = "RTE", proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                note = note[0] if note else ""
            else:
                judged = default_validate(proc.stdout, wanted, task.meta.get("validator_flags", []))
                verdict = "AC" if judged.accepted else "WA"
                note = "" if judged.accepted else (
                    _("Differs from the sample answer; this task accepts other correct answers too, "
                      "the judge will decide.") if task.meta.get("custom_checker") else judged.message)
                if verdict == "AC" and seconds > limit:
                    verdict = "TLE"
            output = proc.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            seconds, verdict, note, output = time.monotonic() - start, "TLE", "", ""
        rows.append({"sample": sample.stem, "verdict": verdict, "time": round(seconds, 3), "note": note,
                     "output": output[:2000]})
    if show:
        head = "".join(f"<th>{html.escape(t)}</th>" for t in (_("Sample"), _("Verdict"), _("Time, s"), ""))
        head = f"<tr>{head}</tr>"
        body = "".join(f"<tr><td>{r['sample']}</td><td>{_verdict_html(r['verdict'], _)}</td>"
                       f"<td>{r['time']:.2f}</td><td>{html.escape(r['note'])}</td></tr>" for r in rows)
        _show(f"<table>{head}{body}</table>", "\n".join(f"{r['sample']}: {r['verdict']} {r['note']}" for r in rows))
    return rows


def _interactive_sample(task: Task, sample: Path, limit: float) -> dict:
    """One sample of an interactive task: the program and the interactor joined by pipes, the
    verdict by the judge's rules: a rejection by an interactor that ended first (the program
    then finding its input closed), then the program's own failure, then the interactor's verdict."""
    _ = task._
    interactor = sorted((task.folder / "interactor").glob("*.py"))
    if not interactor:
        return {"sample": sample.stem, "verdict": None, "time": 0.0, "output": "",
                "note": _("This interactive task cannot be tried here: submit your program and the judge will run it.")}
    entry = task.meta.get("entry", "solution.py")
    to_program, from_program = os.pipe(), os.pipe()
    with tempfile.TemporaryDirectory(prefix="sabaq-sample-") as feedback, tempfile.TemporaryFile() as errors:
        start = time.monotonic()
        program = subprocess.Popen([sys.executable, entry], stdin=to_program[0], stdout=from_program[1],
                                   stderr=errors, cwd=task.folder)
        judge = subprocess.Popen([sys.executable, str(interactor[0]), str(sample), str(sample.with_suffix(".ans")),
                                  feedback + os.sep], stdin=from_program[0], stdout=to_program[1],
                                 stderr=subprocess.DEVNULL, cwd=task.folder)
        for fd in (*to_program, *from_program):
            os.close(fd)  # the two processes hold them now: each sees the other's end close
        verdict, judge_first = None, False
        deadline = start + limit * 3 + 1
        while program.poll() is None:  # which of them ends first decides between WA and RTE
            judge_first = judge_first or judge.poll() is not None
            if time.monotonic() > deadline:
                verdict = "TLE"
                break
            time.sleep(0.001)
        judge_first = judge_first or program.returncode == -signal.SIGPIPE
        seconds = time.monotonic() - start
        for process in (program, judge):  # the judge's rules end the interactor with the program's time
            try:
                process.wait(timeout=0 if verdict else limit * 3 + 1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        message_file = Path(feedback) / "judgemessage.txt"
        note = message_file.read_text(errors="replace").strip() if message_file.exists() else ""
        errors.seek(0)
        crash = errors.read(65536).decode("utf-8", "replace").strip().splitlines()[-1:]
    if verdict is None:
        if judge.returncode == 43 and (judge_first or program.returncode == 0):
            verdict = "WA"
        elif program.returncode != 0:
            verdict, note = "RTE", crash[0] if crash else ""
        elif judge.returncode == 42:
            verdict = "TLE" if seconds > limit else "AC"
        else:
            verdict, note = None, _("The interactor failed (exit {code}); the judge will decide.").format(
                code=judge.returncode)
    return {"sample": sample.stem, "verdict": verdict, "time": round(seconds, 3), "note": note, "output": ""}


def _verdict_html(code: str | None, _) -> str:
    if not code:
        return "…"
    colour = "#1a7f37" if code == "AC" else "#b42318"
    return f'<b style="color:{colour}">{code}</b> {html.escape(_(VERDICT_NAMES.get(code, code)))}'


def submit(folder: str | os.PathLike | None = None, wait_seconds: float = 120.0, show: bool = True) -> dict:
    """Send solution.py (and the notebook) to the judge; wait for the verdict and show it.

    The service's refusal, or its absence, is raised in the task's language."""
    from sabaq.client import ServiceClient  # httpx only when a student submits
    from sabaq.errors import SabaqError

    task = Task(folder)
    _ = task._
    source = task.solution()
    service, token = os.environ.get("SABAQ_SERVICE_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    if not service or not token:
        raise RuntimeError(_("Submitting needs sabaq: open this notebook from your sabaq server."))
    course, name = task.meta["course"], task.meta["assignment"]
    files = [("files", ("solution.py", source, "text/x-python"))]
    notebook = task.folder / f"{name}.ipynb"
    if notebook.exists():
        files.append(("files", (notebook.name, notebook.read_bytes(), "application/x-ipynb+json")))
    with ServiceClient(service, token, language=task.lang, timeout=60) as client:
        try:
            submission = client.json("POST", f"api/v1/courses/{course}/assignments/{name}/submissions", files=files)
        except SabaqError as e:
            raise RuntimeError(e.translated(task.lang)) from None
        if show:
            print(_("Submitted: attempt {attempt}. Waiting for the judge…").format(attempt=submission["attempt"]))
        deadline = time.monotonic() + wait_seconds
        verdict = {"status": "queued"}
        while time.monotonic() < deadline:
            try:
                verdict = client.json("GET", f"api/v1/submissions/{submission['id']}/verdict", timeout=30)
            except SabaqError as e:
                raise RuntimeError(_("sabaq could not show the verdict (HTTP {status}); your submission is stored. "
                                     "Look at sabaq's page of the course.").format(status=e.status)) from None
            if verdict.get("status") != "queued":
                break
            time.sleep(1.0)
    if show:
        _show(verdict_html(verdict, _), json.dumps(verdict, ensure_ascii=False))
    return verdict


def verdict_html(verdict: dict, _) -> str:
    """The verdict table: one row per test group with its verdict, time and points."""
    if verdict.get("status") == "queued":
        return "<p>" + html.escape(_("The judge is busy; your submission is stored. Run submit's cell again "
                                     "later, or look at sabaq's page of the course.")) + "</p>"
    judge = verdict.get("judge") or {}
    rows = []
    for g in judge.get("groups", []):
        first = g.get("first_failure") or ""
        rows.append(f"<tr><td>{html.escape(g['name'])}</td><td>{_verdict_html(g['verdict'], _)}</td>"
                    f"<td>{g['time']:.2f}</td><td>{g['points']:g} / {g['max_points']:g}</td>"
                    f"<td>{html.escape(first)}</td></tr>")
    head = "".join(f"<th>{html.escape(t)}</th>" for t in (_("Tests"), _("Verdict"), _("Time, s"), _("Points"),
                                                          _("First failed test")))
    head = f"<tr>{head}</tr>"
    summary = _("Score: {score} of {max}. Best so far: {best}.").format(
        score=f"{verdict.get('score') or 0:g}", max=f"{verdict.get('max_score') or 0:g}",
        best=f"{verdict.get('best') or 0:g}")
    compile_message = judge.get("compile_message")
    extra = f"<pre>{html.escape(compile_message)}</pre>" if compile_message else ""
    return (f"<p>{_verdict_html(judge.get('verdict'), _)} — {html.escape(summary)}</p>{extra}"
            f"<table>{head}{''.join(rows)}</table>")

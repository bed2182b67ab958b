"""A teacher collects each student's newest submission into nbgrader's submitted/ folder:
the notebooks and plain data, never a file Python could run as her.

Opening a notebook starts its kernel in the notebook's folder, and that folder comes first
on the kernel's path: a submitted ``ipykernel_launcher.py`` would be run instead of the real
launcher, as the teacher and with her hub token, before she runs a cell; a ``jedi.py`` would
be imported at her first Tab, a ``numpy/`` package at her first ``import numpy``. So Collect
leaves out every file Python can pick up from a folder on its path (see ``importable``), and
every top-level folder of the submission holding one anywhere below it (the folder's name is
what an import finds; a notebook opened in a subfolder puts that subfolder first too), and
logs, per student, what it left out and where in sabaq the teacher can still read it: the
service keeps every submitted file and gives them all as a zip. A folder of plain data is
kept: without an importable file it is at most a namespace package, which Python takes only
when nothing else of that name is installed, so it shadows no module and runs nothing. A
folder an earlier Collect filled, before this check, loses those files the next time the
submission is collected, even when it is kept as it is.

Uploads keep taking such files, on purpose: a project's helper module (``utils.py``) or an
olympiad's ``solution.py`` is a legitimate part of a submission, and the only place sabaq
runs a submission, the grading sandbox, runs them as a nobody. The danger is the teacher's
own kernel, so the cut is made where the files enter her folder.
"""

from __future__ import annotations

import os
import shutil
from importlib.machinery import all_suffixes

from nbgrader.exchange import abc
from nbgrader.utils import parse_utc

from sabaq.archive import unpack, write_tree
from sabaq.client import API
from sabaq.errors import Phrase
from sabaq.hub.exchange.exchange import SabaqExchange, language, sabaq_address
from sabaq.i18n import N_

# what Python loads from a folder on its path: this Python's own suffixes (.py, .pyc, the
# extension modules' .cpython-311-x86_64-linux-gnu.so, .abi3.so, .so), other builds' and
# other systems' (.pyo, .pyd, .pyw), and .pth files, which run their 'import' lines in a site folder
IMPORTABLE_SUFFIXES = tuple(sorted({*all_suffixes(), ".py", ".pyc", ".pyo", ".pyw", ".so", ".pyd", ".pth"}))

LEFT_OUT = N_(
    "Collect did not copy these files of {student}'s submission into {folder}: {names}. Python could run "
    "them as you as soon as a notebook there starts its kernel. Nothing is lost: download all the submitted "
    "files as a zip at {files} and read them before running any of them; the submission's page is {page}"
)
REMOVED = N_(
    "An earlier Collect had brought these files of {student}'s submission into {folder}: {names}. Python could "
    "run them as you as soon as a notebook there starts its kernel, so Collect removed them. Nothing is lost: "
    "download all the submitted files as a zip at {files} and read them before running any of them; the "
    "submission's page is {page}"
)


def importable(rel: str) -> bool:
    """A file Python could import or run from a folder on its path (names compared in lower case)."""
    parts = rel.lower().split("/")
    return "__pycache__" in parts or parts[-1].endswith(IMPORTABLE_SUFFIXES)


def split_importable(files: dict[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """(the files that are safe to bring, the names left out: files, and folders as 'name/')."""
    folders = {rel.split("/", 1)[0] for rel in files if "/" in rel and importable(rel)}
    kept: dict[str, bytes] = {}
    left_out: set[str] = set()
    for rel, content in files.items():
        top = rel.split("/", 1)[0]
        if "/" in rel and top in folders:
            left_out.add(top + "/")
        elif importable(rel):
            left_out.add(rel)
        else:
            kept[rel] = content
    return kept, sorted(left_out)


def remove_importable(folder: str) -> list[str]:
    """Take out of a folder collected before this check what Collect now leaves out; the names removed."""
    found = {}
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            found[os.path.relpath(os.path.join(dirpath, name), folder).replace(os.sep, "/")] = b""
    removed = split_importable(found)[1]
    for name in removed:
        path = os.path.join(folder, name.rstrip("/"))
        if name.endswith("/") and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    return removed


class SabaqCollect(SabaqExchange, abc.ExchangeCollect):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        subs = self.api("GET", f"courses/{course}/assignments/{aid}/submissions", params={"latest": "true"}).json()
        student = self.coursedir.student_id
        if student and student != "*":
            subs = [s for s in subs if s["student"] == student]
        if not subs:
            self.log.warning("No submissions of '%s' for course '%s' to collect", aid, course)
        for s in subs:
            dest = self.coursedir.format_path(self.coursedir.submitted_directory, s["student"], aid)
            if os.path.isdir(dest):
                current = self.coursedir.get_existing_timestamp(dest)
                newer = current is None or parse_utc(s["timestamp"]) > current
                if not (self.update and newer):
                    self.log.info("Submission already exists, use --update to update: %s %s", s["student"], aid)
                    removed = remove_importable(dest)
                    if removed:
                        self.log.warning(self.note(REMOVED, s, dest, removed))
                    continue
                shutil.rmtree(dest)
            files, left_out = split_importable(unpack(self.api("GET", f"submissions/{s['id']}/download").content))
            write_tree(dest, files)
            self.log.info("Collecting submission: %s %s", s["student"], aid)
            if left_out:
                self.log.warning(self.note(LEFT_OUT, s, dest, left_out))

    def note(self, message: str, submission: dict, dest: str, names: list[str]) -> str:
        """What one student's submission has no longer in the teacher's folder, and where sabaq
        still has it, in the user's language."""
        note = Phrase(message, student=submission["student"], names=", ".join(names),
                      folder=os.path.relpath(dest, self.coursedir.root),
                      files=sabaq_address(f"{API}submissions/{submission['id']}/download"),
                      page=sabaq_address(f"submissions/{submission['id']}"))
        return note.translated(language())

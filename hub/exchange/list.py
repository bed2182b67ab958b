"""The Assignments panel's lists: released assignments, one's own submissions with their
feedback, and (for staff) everyone's submissions."""

from __future__ import annotations

import glob
import hashlib
import os

from nbgrader.exchange import abc

from sabaq.errors import SabaqError
from sabaq.hub.exchange.exchange import SabaqExchange
from sabaq.i18n import N_


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


class SabaqList(SabaqExchange, abc.ExchangeList):
    def list_files(self):
        if self.inbound:
            return self._inbound()
        if self.cached:
            return self._submitted()
        return self._released()

    def remove_files(self):
        if self.inbound or self.cached:
            raise SabaqError(N_("Submissions are kept for good in sabaq and cannot be removed."))
        course = self.require_course()
        aid = self.require_assignment()
        self.api("DELETE", f"courses/{course}/assignments/{aid}/release")
        return [{"course_id": course, "assignment_id": aid, "status": "removed"}]

    def _courses(self, student_only: bool = False) -> list[str]:
        """The course asked for, else every course of the caller (as a student only, if asked)."""
        if self.coursedir.course_id:
            return [self.coursedir.course_id]
        return [c["id"] for c in self.api("GET", "courses").json() if not student_only or c.get("role") == "student"]

    def _wanted(self, name: str) -> bool:
        aid = self.coursedir.assignment_id
        return not aid or aid in ("*", name)

    def _released(self) -> list[dict]:
        out = []
        for course in self._courses():
            for a in self.api("GET", f"courses/{course}/assignments").json():
                if not self._wanted(a["name"]) or not a["released_at"]:
                    continue
                local = self.local_dir(course, a["name"])
                info = {"course_id": course, "assignment_id": a["name"], "due_at": a["due_at"]}
                if os.path.isdir(local):
                    info["status"] = "fetched"
                    info["path"] = local
                    info["notebooks"] = [
                        {"notebook_id": os.path.splitext(os.path.basename(p))[0], "path": os.path.abspath(p)}
                        for p in sorted(glob.glob(os.path.join(local, "*.ipynb")))
                    ]
                else:
                    info["status"] = "released"
                    info["path"] = f"{course}/{a['name']}"
                    info["notebooks"] = [
                        {"notebook_id": os.path.splitext(nb)[0], "path": nb} for nb in a["notebooks"]
                    ]
                out.append(info)
        return out

    def _submitted(self) -> list[dict]:
        """The caller's own submissions with nbgrader's feedback flags."""
        out = []
        for course in self._courses(student_only=True):
            for a in self.api("GET", f"courses/{course}/assignments").json():
                if not self._wanted(a["name"]):
                    continue
                subs = self.api("GET", f"courses/{course}/assignments/{a['name']}/submissions").json()
                if not subs:
                    continue
                local = self.local_dir(course, a["name"])
                entries = [self._submission(course, a["name"], local, s) for s in subs]
                out.append({
                    "course_id": course, "student_id": subs[0]["student"], "assignment_id": a["name"],
                    "status": "submitted", "submissions": entries,
                })
        return out

    def _submission(self, course: str, assignment: str, local: str, s: dict) -> dict:
        """One submission as nbgrader lists it: its notebooks, and whether their feedback is
        here, at the service, or newer at the service than here."""
        feedback_dir = os.path.join(local, "feedback", s["timestamp"])
        notebooks = []
        for path in s["files"]:
            if not path.endswith(".ipynb") or "/" in path:
                continue
            nb_id = path[: -len(".ipynb")]
            local_html = os.path.join(feedback_dir, f"{nb_id}.html")
            local_hash = _sha256(local_html)
            remote_hash = s["feedback_hashes"].get(nb_id)
            notebooks.append({
                "notebook_id": nb_id,
                "path": path,
                "has_local_feedback": local_hash is not None,
                "has_exchange_feedback": remote_hash is not None,
                "local_feedback_path": local_html if local_hash else None,
                "feedback_updated": bool(local_hash and remote_hash and local_hash != remote_hash),
            })
        entry = {
            "course_id": course, "student_id": s["student"], "assignment_id": assignment,
            "timestamp": s["timestamp"], "status": "submitted", "path": f"{course}/{assignment}",
            "notebooks": notebooks,
            "has_local_feedback": bool(notebooks) and all(n["has_local_feedback"] for n in notebooks),
            "has_exchange_feedback": bool(notebooks) and all(n["has_exchange_feedback"] for n in notebooks),
            "feedback_updated": any(n["feedback_updated"] for n in notebooks),
        }
        entry["local_feedback_path"] = feedback_dir if entry["has_local_feedback"] else None
        return entry

    def _inbound(self) -> list[dict]:
        """Staff: every student's submissions of the course."""
        course = self.require_course()
        out = []
        for a in self.api("GET", f"courses/{course}/assignments").json():
            if not self._wanted(a["name"]):
                continue
            subs = self.api("GET", f"courses/{course}/assignments/{a['name']}/submissions").json()
            by_student: dict[str, list] = {}
            for s in subs:
                by_student.setdefault(s["student"], []).append({
                    "course_id": course, "student_id": s["student"], "assignment_id": a["name"],
                    "timestamp": s["timestamp"], "status": "submitted",
                })
            for student, entries in sorted(by_student.items()):
                out.append({"course_id": course, "student_id": student, "assignment_id": a["name"],
                            "status": "submitted", "submissions": entries})
        return out

"""nbgrader's pluggable exchange, implemented as an HTTP client of the sabaq service.

nbgrader's Assignments panel, formgrader and command line keep working
unchanged; instead of a shared directory that every user must be able to
write, files travel through the service's REST API with the server's own hub
token, so no filesystem is shared between users or pods. The service decides
who may do what; messages it returns are already in the user's language.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import os
import shutil

import httpx
from traitlets import Bool, Float, Unicode, default

from nbgrader.exchange import abc
from nbgrader.exchange.abc.exchange import ExchangeError

from sabaq.i18n import translator

from sabaq.archive import read_tree, unpack, write_tree


def _(message: str) -> str:
    """Translate into the user's language (the spawner sets SABAQ_LANG)."""
    return translator(os.environ.get("SABAQ_LANG")).gettext(message)


class SabaqExchange(abc.Exchange):
    """Shared plumbing: where the service is, how to call it, where files go."""

    service_url = Unicode(help="Base URL of the sabaq service (…/services/sabaq/).").tag(config=True)
    api_token = Unicode(help="Hub token of this server; the service asks the hub whose it is.").tag(
        config=True
    )
    timeout = Float(120.0, help="Seconds to wait for the service.").tag(config=True)
    path_includes_course = Bool(
        True, help="Keep assignments in <course>/<assignment> so two courses may share names."
    ).tag(config=True)

    @default("service_url")
    def _service_url_default(self):
        return os.environ.get("SABAQ_SERVICE_URL", "")

    @default("api_token")
    def _api_token_default(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    def api(self, method: str, path: str, ok=(200, 201, 204), **kwargs) -> httpx.Response:
        if not self.service_url:
            self.fail(_("sabaq is not reachable from this server: SABAQ_SERVICE_URL is not set. Open JupyterLab from the sabaq hub."))
        url = self.service_url.rstrip("/") + "/api/v1/" + path.lstrip("/")
        headers = {"Authorization": f"token {self.api_token}"}
        try:
            response = httpx.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as e:
            self.fail(_("The sabaq service cannot be reached ({error}). Try again in a minute.").format(error=e))
        if response.status_code not in ok:
            try:
                message = response.json().get("message") or response.text
            except ValueError:
                message = response.text[:500]
            self.fail(message or f"HTTP {response.status_code} from {url}")
        return response

    def local_dir(self, course_id: str, assignment_id: str) -> str:
        parts = [course_id, assignment_id] if self.path_includes_course else [assignment_id]
        return os.path.abspath(os.path.join(self.assignment_dir, *parts))

    def require_course(self) -> str:
        if not self.coursedir.course_id:
            self.fail(_("No course id was given. Choose a course, or run the command again with --course."))
        return self.coursedir.course_id

    def require_assignment(self) -> str:
        if not self.coursedir.assignment_id:
            self.fail(_("No assignment was named. Choose an assignment and try again."))
        return self.coursedir.assignment_id

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """nbgrader's CourseDirectory.ignore patterns, applied to each path part."""
        import fnmatch

        name = rel.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.coursedir.ignore)

    # The transfer steps are implemented by the subclasses.
    def init_src(self):
        pass

    def init_dest(self):
        pass

    def copy_files(self):
        pass


def _courses(ex: SabaqExchange, student_only: bool = False) -> list[str]:
    if ex.coursedir.course_id:
        return [ex.coursedir.course_id]
    items = ex.api("GET", "courses").json()
    return [c["id"] for c in items if not student_only or c.get("role") == "student"]


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


class SabaqFetchAssignment(abc.ExchangeFetchAssignment, SabaqExchange):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        dest = self.local_dir(course, aid)
        if os.path.isdir(dest) and not self.replace_missing_files:
            self.fail(_("You already have a copy of the assignment in {path}. Rename or remove it to fetch a fresh copy.").format(path=os.path.relpath(dest, self.assignment_dir)))
        response = self.api("GET", f"courses/{course}/assignments/{aid}/download")
        files = unpack(response.content)
        written = write_tree(dest, files, overwrite=not os.path.isdir(dest))
        self.log.info("Fetched as: %s %s (%d files)", course, aid, len(written))


class SabaqSubmit(abc.ExchangeSubmit, SabaqExchange):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        src = self.local_dir(course, aid)
        if not os.path.isdir(src):
            self.fail(_("There is no assignment folder at {path}. Fetch the assignment first.").format(path=src))
        files = read_tree(src, ignore=lambda rel, is_dir: self.ignored(rel, is_dir) or rel.split("/")[0] == "feedback")
        released = set(self.api("GET", f"courses/{course}/assignments/{aid}").json()["notebooks"])
        missing = sorted(released - set(files))
        if missing:
            if self.strict:
                self.fail(_("The assignment {assignment} was not submitted because notebooks are missing: {notebooks}.").format(assignment=aid, notebooks=", ".join(missing)))
            self.log.warning("Possible missing notebooks for assignment %s: %s", aid, ", ".join(missing))
        upload = [("files", (rel, content, "application/octet-stream")) for rel, content in files.items()]
        result = self.api("POST", f"courses/{course}/assignments/{aid}/submissions", files=upload).json()
        self.timestamp = result["timestamp"]
        self.log.info("Submitted as: %s %s %s", course, aid, result["timestamp"])


class SabaqList(abc.ExchangeList, SabaqExchange):
    def list_files(self):
        if self.inbound:
            return self._inbound()
        if self.cached:
            return self._submitted()
        return self._released()

    def remove_files(self):
        if self.inbound or self.cached:
            self.fail(_("Submissions are kept for good in sabaq and cannot be removed."))
        course = self.require_course()
        aid = self.require_assignment()
        self.api("DELETE", f"courses/{course}/assignments/{aid}/release")
        return [{"course_id": course, "assignment_id": aid, "status": "removed"}]

    def _wanted(self, name: str) -> bool:
        aid = self.coursedir.assignment_id
        return not aid or aid in ("*", name)

    def _released(self) -> list[dict]:
        out = []
        for course in _courses(self):
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
        for course in _courses(self, student_only=True):
            for a in self.api("GET", f"courses/{course}/assignments").json():
                if not self._wanted(a["name"]):
                    continue
                subs = self.api("GET", f"courses/{course}/assignments/{a['name']}/submissions").json()
                if not subs:
                    continue
                local = self.local_dir(course, a["name"])
                entries = []
                for s in subs:
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
                        "course_id": course, "student_id": s["student"], "assignment_id": a["name"],
                        "timestamp": s["timestamp"], "status": "submitted", "path": f"{course}/{a['name']}",
                        "notebooks": notebooks,
                        "has_local_feedback": bool(notebooks) and all(n["has_local_feedback"] for n in notebooks),
                        "has_exchange_feedback": bool(notebooks) and all(n["has_exchange_feedback"] for n in notebooks),
                        "feedback_updated": any(n["feedback_updated"] for n in notebooks),
                    }
                    entry["local_feedback_path"] = feedback_dir if entry["has_local_feedback"] else None
                    entries.append(entry)
                out.append({
                    "course_id": course, "student_id": subs[0]["student"], "assignment_id": a["name"],
                    "status": "submitted", "submissions": entries,
                })
        return out

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


class SabaqReleaseAssignment(abc.ExchangeReleaseAssignment, SabaqExchange):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        release_dir = self.coursedir.format_path(self.coursedir.release_directory, ".", aid)
        source_dir = self.coursedir.format_path(self.coursedir.source_directory, ".", aid)
        if not os.path.isdir(release_dir):
            if os.path.isdir(source_dir):
                self.fail(_("The assignment is in {source} but not in {release}: generate it first.").format(source=source_dir, release=release_dir))
            self.fail(_("There is no assignment folder at {path}. Fetch the assignment first.").format(path=release_dir))
        existing = self.api("GET", f"courses/{course}/assignments/{aid}", ok=(200, 404))
        if existing.status_code == 200 and existing.json().get("released_at") and not self.force:
            self.fail(_("{course}/{assignment} is already released. Release it again with --force to replace it.").format(course=course, assignment=aid))
        skip = lambda rel, is_dir: self.ignored(rel, is_dir)  # noqa: E731
        upload = [("release", (rel, c, "application/octet-stream")) for rel, c in read_tree(release_dir, skip).items()]
        if os.path.isdir(source_dir):
            upload += [("source", (rel, c, "application/octet-stream")) for rel, c in read_tree(source_dir, skip).items()]
        data = {}
        due = self._duedate(aid)
        if due is not None:
            data["due"] = due.replace(tzinfo=dt.timezone.utc).isoformat()
        self.api("PUT", f"courses/{course}/assignments/{aid}", files=upload, data=data)
        self.log.info("Released as: %s %s", course, aid)

    def _duedate(self, aid: str):
        """The due date set in the formgrader (nbgrader keeps it as naive UTC)."""
        try:
            from nbgrader.api import Gradebook, MissingEntry

            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                return gb.find_assignment(aid).duedate
        except Exception:  # no gradebook or no such assignment: no due date
            return None


class SabaqCollect(abc.ExchangeCollect, SabaqExchange):
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
                newer = current is None or _parse(s["timestamp"]) > current
                if not (self.update and newer):
                    self.log.info("Submission already exists, use --update to update: %s %s", s["student"], aid)
                    continue
                shutil.rmtree(dest)
            files = unpack(self.api("GET", f"submissions/{s['id']}/download").content)
            write_tree(dest, files)
            self.log.info("Collecting submission: %s %s", s["student"], aid)


def _parse(timestamp: str):
    from nbgrader.utils import parse_utc

    return parse_utc(timestamp)


class SabaqReleaseFeedback(abc.ExchangeReleaseFeedback, SabaqExchange):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        student = self.coursedir.student_id or "*"
        subs = self.api("GET", f"courses/{course}/assignments/{aid}/submissions").json()
        pattern = self.coursedir.format_path(self.coursedir.feedback_directory, student, aid)
        released = 0
        for feedback_dir in sorted(glob.glob(pattern)):
            student_id = os.path.basename(os.path.dirname(feedback_dir.rstrip("/")))
            stamp_path = os.path.join(feedback_dir, "timestamp.txt")
            if not os.path.exists(stamp_path):
                self.log.warning("No timestamp.txt in %s; skipping", feedback_dir)
                continue
            with open(stamp_path) as fh:
                stamp = fh.read().strip()
            match = [s for s in subs if s["student"] == student_id and s["timestamp"] == stamp]
            if not match:
                self.log.warning("No submission of %s at %s; skipping its feedback", student_id, stamp)
                continue
            html = [("files", (os.path.basename(p), open(p, "rb").read(), "text/html"))
                    for p in sorted(glob.glob(os.path.join(feedback_dir, "*.html")))]
            if html:
                self.api("PUT", f"submissions/{match[0]['id']}/feedback", files=html)
                released += 1
                self.log.info("Releasing feedback for student '%s' on assignment '%s/%s'", student_id, course, aid)
        if not released:
            self.log.warning("No feedback to release for %s/%s", course, aid)


class SabaqFetchFeedback(abc.ExchangeFetchFeedback, SabaqExchange):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        subs = self.api("GET", f"courses/{course}/assignments/{aid}/submissions").json()
        dest_root = os.path.join(self.local_dir(course, aid), "feedback")
        fetched = 0
        for s in subs:
            if not s["feedback"]:
                continue
            files = unpack(self.api("GET", f"submissions/{s['id']}/feedback").content)
            write_tree(os.path.join(dest_root, s["timestamp"]), files)
            fetched += len(files)
        self.log.info("Fetched feedback: %d files for %s/%s", fetched, course, aid)


__all__ = [
    "ExchangeError", "SabaqExchange", "SabaqFetchAssignment", "SabaqSubmit", "SabaqList",
    "SabaqReleaseAssignment", "SabaqCollect", "SabaqReleaseFeedback", "SabaqFetchFeedback",
]

"""`sabaq demo class`: rehearse a whole class cycle against a running sabaq.

An administrator's session releases an assignment to a fresh rehearsal course;
N students log in through the hub, fetch and submit varied answers through the
real nbgrader exchange plugin, the workers grade, feedback is released and
fetched, and the gradebook is printed. Any submission that is lost or left
ungraded makes the command fail.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from pathlib import Path

import httpx
import nbformat

from sabaq.client import ServiceClient
from sabaq.courses import course_dir
from sabaq.i18n import N_, environment_language, translator

ANSWERS = [
    "def speed(s, t):\n    if t <= 0:\n        raise ValueError('t')\n    return s / t",  # all tests pass
    "def speed(s, t):\n    return s / t",  # misses the ValueError check
    "def speed(s, t):\n    return s * t",  # wrong
    "def speed(s, t):\n    raise NotImplementedError()",  # left unfinished
]


class Rehearsal:
    def __init__(self, url: str, admin_password: str, out=print, language: str | None = None):
        """language: of the report (the terminal's, $SABAQ_LANG or $LANG, by default)."""
        self.url = url.rstrip("/")
        self.admin_password = admin_password
        self._print = out
        self.language = language or environment_language()
        self._ = translator(self.language)

    def out(self, message: str, **values) -> None:
        self._print(self._(message).format(**values))

    # --- people -------------------------------------------------------------

    def login(self, name: str, password: str) -> str:
        """Log in through the hub's form; return an API token of that user.

        The redirect after the form is not followed: it would start the user's server,
        which the exchange and the API do not need."""
        with httpx.Client(base_url=self.url, timeout=120) as client:
            client.get("/hub/login")
            r = client.post("/hub/login", data={"username": name, "password": password,
                                                "_xsrf": client.cookies.get("_xsrf")})
            if not r.is_redirect or "/hub/login" in r.headers.get("location", ""):
                raise RuntimeError(f"{name} could not log in")
            r = client.post(f"/hub/api/users/{name}/tokens", json={"note": "sabaq demo class"},
                            headers={"X-XSRFToken": client.cookies.get("_xsrf", path="/hub/")})
            r.raise_for_status()
            return r.json()["token"]

    def api(self, token: str) -> ServiceClient:
        """The service as the token's user; a refusal raises the service's message."""
        return ServiceClient(f"{self.url}/services/sabaq/", token, language=self.language, timeout=120)

    # --- the cycle --------------------------------------------------------------

    def new_course(self, admin: ServiceClient, kind: str, title: str, language: str) -> str:
        """A fresh course named after its kind and the time, e.g. rehearsal-1126231500."""
        course = f"{kind}-{dt.datetime.now().strftime('%m%d%H%M%S')}"
        admin.post("api/v1/courses", json={"id": course, "title": title, "language": language})
        return course

    def add_student(self, admin: ServiceClient, course: str, login: str, full_name: str, section: str) -> str:
        """A new account, a student of `course`; returns its password."""
        password = secrets.token_urlsafe(9)
        admin.post("api/v1/users", json={"login": login, "full_name": full_name, "password": password})
        admin.put(f"api/v1/courses/{course}/members/{login}", json={"role": "student", "section": section})
        return password

    def run(self, students: int, timeout: float = 600) -> int:
        with self.api(self.login("admin", self.admin_password)) as admin:
            return self.cycle(admin, students, timeout)

    def cycle(self, admin: ServiceClient, students: int, timeout: float) -> int:
        """A fresh course, its students' whole cycle, the gradebook; 1 if a submission went missing."""
        course = self.new_course(admin, "rehearsal", "Rehearsal", "kk")
        people = {}
        for i in range(1, students + 1):
            login = f"r{course[-10:]}-s{i}"
            people[login] = self.add_student(admin, course, login, f"Оқушы {i}", "R")
        self.out(N_("course {course}: {students} students"), course=course, students=students)
        self.release(admin, course)
        submitted = {}
        with tempfile.TemporaryDirectory(prefix="sabaq-rehearsal-") as tmp:
            for i, (login, password) in enumerate(people.items()):
                token = self.login(login, password)
                home = Path(tmp) / login
                self.exchange(token, home, course, "Fetch")
                notebook = home / course / "ps1" / "motion.ipynb"
                nb = nbformat.read(notebook, as_version=4)
                nb.cells[1].source = ANSWERS[i % len(ANSWERS)]
                nbformat.write(nb, notebook)
                self.exchange(token, home, course, "Submit")
                submitted[login] = token
            self.out(N_("submitted: {count}"), count=len(submitted))
            graded = self.wait_graded(admin, course, set(people), timeout)
            admin.post(f"api/v1/courses/{course}/assignments/ps1/release-feedback")
            fetched = 0
            for login, token in submitted.items():
                home = Path(tmp) / login
                self.exchange(token, home, course, "FetchFeedback")
                fetched += len(list((home / course / "ps1" / "feedback").glob("*/*.html")))
        return self.report(admin, course, people, graded, fetched)

    def release(self, admin: ServiceClient, course: str, src: Path | None = None) -> None:
        """Release an assignment (the demo's ps1 unless `src` is given) with its source, due in a week."""
        from sabaq.hub.domain.authoring import generate_release, source_files

        src = src or course_dir("demo") / "source" / "ps1"
        files = [("release", (p, c, "application/octet-stream"))
                 for p, c in generate_release(src, src.name, course).items()]
        files += [("source", (p, c, "application/octet-stream")) for p, c in source_files(src).items()]
        due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)).isoformat()
        admin.put(f"api/v1/courses/{course}/assignments/{src.name}", files=files, data={"due": due})

    def exchange(self, token: str, home: Path, course: str, kind: str) -> None:
        """Use nbgrader's exchange exactly as a student's server does."""
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange import ExchangeFactory
        from traitlets.config import Config

        home.mkdir(parents=True, exist_ok=True)
        config = Config()
        for trait, cls in {"fetch_assignment": "SabaqFetchAssignment", "submit": "SabaqSubmit",
                           "fetch_feedback": "SabaqFetchFeedback"}.items():
            setattr(config.ExchangeFactory, trait, f"sabaq.hub.exchange.{cls}")
        config.Exchange.assignment_dir = str(home)
        config.SabaqExchange.service_url = f"{self.url}/services/sabaq/"
        config.SabaqExchange.api_token = token
        config.CourseDirectory.course_id = course
        config.CourseDirectory.assignment_id = "ps1"
        coursedir = CourseDirectory(config=config)
        make = {"Fetch": "FetchAssignment", "Submit": "Submit", "FetchFeedback": "FetchFeedback"}[kind]
        getattr(ExchangeFactory(config=config), make)(coursedir=coursedir, authenticator=Authenticator(config=config),
                                                      config=config).start()

    def wait_graded(self, admin: ServiceClient, course: str, students: set[str], timeout: float) -> set[str]:
        deadline = time.monotonic() + timeout
        graded: set[str] = set()
        while time.monotonic() < deadline:
            subs = admin.json("GET", f"api/v1/courses/{course}/assignments/ps1/submissions", params={"latest": "true"})
            graded = {s["student"] for s in subs if s["grade"] and s["grade"]["status"] == "graded"}
            if graded >= students:
                break
            time.sleep(1)
        self.out(N_("graded: {count}"), count=len(graded))
        return graded

    def report(self, admin: ServiceClient, course: str, people: dict, graded: set[str], fetched: int) -> int:
        book = admin.json("GET", f"api/v1/courses/{course}/gradebook")
        self.out(N_("feedback files fetched: {count}"), count=fetched)
        student, status, score = (self._(word) for word in (N_("student"), N_("status"), N_("score")))
        self._print(f"{student:<24} {status:<14} {score}")
        scores = []
        for row in book["rows"]:
            mark = row["marks"][0]
            score = "" if mark["score"] is None else f"{mark['score']:g} / {mark['max_score']:g}"
            if mark["score"] is not None:
                scores.append(mark["score"])
            self._print(f"{row['student']:<24} {mark['status']:<14} {score}")
        lost = sorted(set(people) - {r["student"] for r in book["rows"] if r["marks"][0]["submission_id"]})
        ungraded = sorted(set(people) - graded)
        if scores:
            self.out(N_("class average: {average}"), average=f"{sum(scores) / len(scores):.2f}")
        if lost or ungraded:
            self.out(N_("LOST: {lost}  UNGRADED: {ungraded}"), lost=lost, ungraded=ungraded)
            return 1
        self.out(N_("every submission was stored and graded"))
        return 0


def admin_password(data_dir: str) -> str | None:
    path = Path(data_dir) / "demo-logins.txt"
    if not path.exists():
        return os.environ.get("SABAQ_ADMIN_PASSWORD")
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "admin":
            return parts[1]
    return os.environ.get("SABAQ_ADMIN_PASSWORD")

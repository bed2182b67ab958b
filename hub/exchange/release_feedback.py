"""A teacher releases nbgrader's feedback; each file goes to the submission its timestamp names."""

from __future__ import annotations

import glob
import os

from nbgrader.exchange import abc

from sabaq.hub.exchange.exchange import SabaqExchange


class SabaqReleaseFeedback(SabaqExchange, abc.ExchangeReleaseFeedback):
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
            html = []
            for path in sorted(glob.glob(os.path.join(feedback_dir, "*.html"))):
                with open(path, "rb") as fh:
                    html.append(("files", (os.path.basename(path), fh.read(), "text/html")))
            if html:
                self.api("PUT", f"submissions/{match[0]['id']}/feedback", files=html)
                released += 1
                self.log.info("Releasing feedback for student '%s' on assignment '%s/%s'", student_id, course, aid)
        if not released:
            self.log.warning("No feedback to release for %s/%s", course, aid)

"""A teacher collects each student's newest submission into nbgrader's submitted/ folder."""

from __future__ import annotations

import os
import shutil

from nbgrader.exchange import abc
from nbgrader.utils import parse_utc

from sabaq.archive import unpack, write_tree
from sabaq.hub.exchange.exchange import SabaqExchange


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
                    continue
                shutil.rmtree(dest)
            write_tree(dest, unpack(self.api("GET", f"submissions/{s['id']}/download").content))
            self.log.info("Collecting submission: %s %s", s["student"], aid)

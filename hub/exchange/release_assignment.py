"""A teacher releases a generated assignment, with its source and the formgrader's due date."""

from __future__ import annotations

import datetime as dt
import os

from nbgrader.exchange import abc

from sabaq.archive import read_tree
from sabaq.errors import SabaqError
from sabaq.hub.exchange.exchange import SabaqExchange
from sabaq.i18n import N_


class SabaqReleaseAssignment(SabaqExchange, abc.ExchangeReleaseAssignment):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        release_dir = self.coursedir.format_path(self.coursedir.release_directory, ".", aid)
        source_dir = self.coursedir.format_path(self.coursedir.source_directory, ".", aid)
        if not os.path.isdir(release_dir):
            if os.path.isdir(source_dir):
                raise SabaqError(N_("The assignment is in {source} but not in {release}: generate it first."),
                                 source=source_dir, release=release_dir)
            raise SabaqError(N_("There is no assignment folder at {path}. Fetch the assignment first."),
                             path=release_dir)
        existing = self.api("GET", f"courses/{course}/assignments/{aid}", ok=(200, 404))
        if existing.status_code == 200 and existing.json().get("released_at") and not self.force:
            raise SabaqError(N_("{course}/{assignment} is already released. Release it again with --force to "
                                "replace it."), course=course, assignment=aid)
        upload = [("release", (rel, c, "application/octet-stream"))
                  for rel, c in read_tree(release_dir, self.ignored).items()]
        if os.path.isdir(source_dir):
            upload += [("source", (rel, c, "application/octet-stream"))
                       for rel, c in read_tree(source_dir, self.ignored).items()]
        data = {}
        due = self._duedate(aid)
        if due is not None:
            data["due"] = due.replace(tzinfo=dt.timezone.utc).isoformat()
        self.api("PUT", f"courses/{course}/assignments/{aid}", files=upload, data=data)
        self.log.info("Released as: %s %s", course, aid)

    def _duedate(self, aid: str):
        """The due date set in the formgrader (nbgrader keeps it as naive UTC)."""
        try:
            from nbgrader.api import Gradebook

            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                return gb.find_assignment(aid).duedate
        except Exception:  # no gradebook or no such assignment: no due date
            return None

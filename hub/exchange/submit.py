"""A student submits their copy; the service keeps every attempt and dates it."""

from __future__ import annotations

import os

from nbgrader.exchange import abc

from sabaq.archive import read_tree
from sabaq.client import IDEMPOTENCY_KEY, new_request_key
from sabaq.errors import SabaqError
from sabaq.hub.exchange.exchange import SabaqExchange
from sabaq.i18n import N_


class SabaqSubmit(SabaqExchange, abc.ExchangeSubmit):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        src = self.local_dir(course, aid)
        if not os.path.isdir(src):
            raise SabaqError(N_("There is no assignment folder at {path}. Fetch the assignment first."), path=src)
        files = read_tree(src, ignore=lambda rel, is_dir: self.ignored(rel, is_dir) or rel.split("/")[0] == "feedback")
        released = set(self.api("GET", f"courses/{course}/assignments/{aid}").json()["notebooks"])
        missing = sorted(released - set(files))
        if missing:
            if self.strict:
                raise SabaqError(N_("The assignment {assignment} was not submitted because notebooks are missing: "
                                    "{notebooks}."), assignment=aid, notebooks=", ".join(missing))
            self.log.warning("Possible missing notebooks for assignment %s: %s", aid, ", ".join(missing))
        upload = [("files", (rel, content, "application/octet-stream")) for rel, content in files.items()]
        # the same key on every repeat: an upload stored whose answer was lost is not a second attempt
        result = self.api("POST", f"courses/{course}/assignments/{aid}/submissions", files=upload,
                          headers={IDEMPOTENCY_KEY: new_request_key()}).json()
        self.timestamp = result["timestamp"]
        self.log.info("Submitted as: %s %s %s", course, aid, result["timestamp"])

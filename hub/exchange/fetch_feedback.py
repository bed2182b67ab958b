"""A student fetches the feedback on their submissions into feedback/<timestamp>/."""

from __future__ import annotations

import os

from nbgrader.exchange import abc

from sabaq.archive import unpack, write_tree
from sabaq.hub.exchange.exchange import SabaqExchange


class SabaqFetchFeedback(SabaqExchange, abc.ExchangeFetchFeedback):
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

"""A student fetches a released assignment into <course>/<assignment>."""

from __future__ import annotations

import os

from nbgrader.exchange import abc

from sabaq.archive import unpack, write_tree
from sabaq.errors import SabaqError
from sabaq.hub.exchange.exchange import SabaqExchange
from sabaq.i18n import N_


class SabaqFetchAssignment(SabaqExchange, abc.ExchangeFetchAssignment):
    def copy_files(self):
        course = self.require_course()
        aid = self.require_assignment()
        dest = self.local_dir(course, aid)
        if os.path.isdir(dest) and not self.replace_missing_files:
            raise SabaqError(N_("You already have a copy of the assignment in {path}. Rename or remove it to fetch a "
                                "fresh copy."), path=os.path.relpath(dest, self.assignment_dir))
        files = unpack(self.api("GET", f"courses/{course}/assignments/{aid}/download").content)
        written = write_tree(dest, files, overwrite=not os.path.isdir(dest))
        self.log.info("Fetched as: %s %s (%d files)", course, aid, len(written))

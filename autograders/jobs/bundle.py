"""The inputs a job fetches from the service, unpacked to {path: content}.

The service zips them (see ``sabaq.hub.service.api.worker``); paths here are
relative to the folder the job works in, so the handlers never see the
bundle's layout.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from sabaq.archive import unpack
from sabaq.client import ServiceClient
from sabaq.contracts import WORKER_API, GradingMeta


def _below(files: dict[str, bytes], prefix: str) -> dict[str, bytes]:
    return {p[len(prefix):]: c for p, c in files.items() if p.startswith(prefix)}


class GradingBundle(NamedTuple):
    """What grading or judging one submission needs; paths relative to the assignment's folder."""

    meta: GradingMeta
    source: dict[str, bytes]  # the teacher's source (a task's package)
    submitted: dict[str, bytes]  # the files as the student sent them


def grading_bundle(client: ServiceClient, submission_id: int) -> GradingBundle:
    files = unpack(client.get(f"{WORKER_API}grading/{submission_id}").content)
    meta = GradingMeta.from_json(json.loads(files.pop("meta.json")))
    return GradingBundle(meta, _below(files, f"source/{meta.assignment}/"),
                         _below(files, f"submitted/{meta.student}/{meta.assignment}/"))


def check_bundle(client: ServiceClient, submission_id: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """What checking one submission needs: (the released files, the submitted ones)."""
    files = unpack(client.get(f"{WORKER_API}submissions/{submission_id}").content)
    return _below(files, "release/"), _below(files, "submission/")

"""Bringing published lessons into a student's home without losing their edits.

The behaviour nbgitpuller's users know: a file the student has not touched
follows the teacher's newest version; a file the student changed stays as the
student left it; a file the student deleted comes back. Each lesson folder
remembers what it last received in ``.sabaq-sync.json`` (path -> sha256).

Runs with the student's own privileges: ``python -m sabaq.lessons.sync ROOT``
reads a zip of ``<course>/<lesson>/<path>`` entries on stdin (the spawner
pipes the student's lessons in before their server starts), and
``sabaq lesson pull`` fetches the same zip from the service with the server's
token, for updates during a session; the course page's lesson link merges one
lesson the same way as she opens it (``sabaq.lessons.lessonlink``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = ".sabaq-sync.json"


@dataclass
class MergeReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the student's edits won

    def extend(self, other: "MergeReport", prefix: str) -> None:
        for name in ("added", "updated", "kept"):
            getattr(self, name).extend(f"{prefix}/{p}" for p in getattr(other, name))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()  # never write through a link planted in the lesson folder
    tmp = target.with_name(target.name + ".sabaq-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def merge(folder: Path, files: dict[str, bytes]) -> MergeReport:
    """Merge one lesson's newest files into its folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / STATE_FILE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    report = MergeReport()
    for rel, data in sorted(files.items()):
        if not _safe(rel):
            continue
        target = folder / rel
        new = _sha(data)
        if not target.exists() or target.is_symlink():
            _write(target, data)
            report.added.append(rel)
        else:
            local = _sha(target.read_bytes())
            if local != new:
                if local == state.get(rel):
                    _write(target, data)
                    report.updated.append(rel)
                else:
                    report.kept.append(rel)
        state[rel] = new
    _write(state_path, json.dumps(state, indent=1, sort_keys=True).encode())
    return report


def merge_bundle(root: Path, bundle: dict[str, bytes]) -> MergeReport:
    """Merge {course/lesson/path: content} into root/course/lesson/."""
    by_lesson: dict[tuple[str, str], dict[str, bytes]] = {}
    for path, data in bundle.items():
        parts = path.split("/", 2)
        if len(parts) == 3 and _safe(path):
            by_lesson.setdefault((parts[0], parts[1]), {})[parts[2]] = data
    report = MergeReport()
    for (course, lesson), files in sorted(by_lesson.items()):
        report.extend(merge(Path(root) / course / lesson, files), f"{course}/{lesson}")
    return report


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def pull(root: Path, service_url: str, token: str) -> MergeReport:
    """Fetch this person's lessons from the service and merge them under root; the
    service's refusal is raised as a SabaqError in the reader's language."""
    from sabaq.client import ServiceClient  # not loaded when the spawner pipes lessons in

    with ServiceClient(service_url, token, language=os.environ.get("SABAQ_LANG"), timeout=120) as client:
        bundle = unzip(client.get("api/v1/me/lessons.zip").content)
    return merge_bundle(root, bundle)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m sabaq.lessons.sync ROOT < lessons.zip", file=sys.stderr)
        return 2
    report = merge_bundle(Path(argv[0]), unzip(sys.stdin.buffer.read()))
    print(json.dumps({"added": len(report.added), "updated": len(report.updated), "kept": report.kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A worker's run puts its course folder in memory (a tmpfs) when it fits there with room to
spare, else on disk; a folder that is not a tmpfs, or not writable, is never used."""

import os
from pathlib import Path

from sabaq.autograders.jobs import grade
from sabaq.autograders.jobs.bundle import GradingBundle
from sabaq.contracts import GradingMeta


def _mounts(tmp_path, kind, where):
    path = tmp_path / "mounts"
    path.write_text(f"/dev/vda / ext4 rw 0 0\nshm {where} {kind} rw,nosuid 0 0\n")
    return str(path)


def test_only_a_writable_tmpfs_is_a_memory_folder(tmp_path):
    shm = tmp_path / "shm"
    shm.mkdir()
    assert grade.memory_folder(str(shm), _mounts(tmp_path, "tmpfs", shm)) == str(shm)
    assert grade.memory_folder(str(shm), _mounts(tmp_path, "ext4", shm)) is None
    assert grade.memory_folder(str(shm), _mounts(tmp_path, "tmpfs", tmp_path / "elsewhere")) is None
    assert grade.memory_folder(str(shm), str(tmp_path / "no-such-mounts")) is None
    if os.geteuid() != 0:  # root may write anywhere
        shm.chmod(0o500)
        assert grade.memory_folder(str(shm), _mounts(tmp_path, "tmpfs", shm)) is None


def _bundle(size):
    meta = GradingMeta(course="c", assignment="a", student="s", version=1)
    return GradingBundle(meta, {}, {"big.ipynb": b"x" * size})


def test_a_run_goes_to_memory_only_when_it_fits_with_room_to_spare(tmp_path, monkeypatch):
    handler = grade.GradeHandler.__new__(grade.GradeHandler)
    handler.scratch, handler.memory_scratch, handler.sizes = tmp_path / "disk", tmp_path / "memory", {}
    handler.memory_scratch.mkdir()
    template = tmp_path / "template"
    template.mkdir()
    (template / "data.csv").write_bytes(b"y" * 1000)
    free = {"bytes": (grade.MEMORY_SPARE_MB << 20) + 10_000}

    class Stats:
        f_frsize = 1
        f_bavail = property(lambda self: free["bytes"])

    monkeypatch.setattr(grade.os, "statvfs", lambda path: Stats())
    assert handler.course_folder(template, [_bundle(1000)]) == handler.memory_scratch  # 1000 + 2 * 1000 fits
    assert handler.course_folder(template, [_bundle(5000)]) == handler.scratch  # 1000 + 2 * 5000 does not
    free["bytes"] = grade.MEMORY_SPARE_MB << 20  # nothing to spare
    assert handler.course_folder(template, [_bundle(1)]) == handler.scratch
    handler.memory_scratch = None  # no tmpfs on this machine
    free["bytes"] = 1 << 40
    assert handler.course_folder(template, [_bundle(1)]) == handler.scratch


def test_the_handler_cleans_both_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(grade, "memory_folder", lambda: str(tmp_path))
    handler = grade.GradeHandler(grading=None, cache_root=tmp_path / "cache")
    assert Path(handler.memory_scratch).parent == tmp_path and handler.memory_scratch.is_dir()
    handler.close()
    assert not handler.memory_scratch.exists() and not handler.scratch.exists()

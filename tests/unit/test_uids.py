"""The uid leases' lock folder: sabaq's own, never one a student planted (issue 14).

Before the first grading after a reboot, anyone could create the lock folder in
/run/lock and every lease then failed; now a folder that is not this user's 0700
folder is moved aside (never opened, followed or deleted) and made anew."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sabaq.autograders.sandbox import uids

POOL = range(64910, 64914)


@pytest.fixture
def locks(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "sabaq-uids"
    monkeypatch.setattr(uids, "LOCKS", folder)
    return folder


def lease_works(locks: Path) -> None:
    with uids.lease(POOL, 2) as held:
        assert len(set(held.uids)) == 2 and set(held.uids) <= set(POOL)
        with pytest.raises(uids.UidsBusy):
            uids.lease(POOL, 3)  # the folder really holds the leases
    info = os.lstat(locks)
    assert locks.is_dir() and not locks.is_symlink()
    assert info.st_uid == os.geteuid() and info.st_mode & 0o777 == 0o700


def moved_aside(locks: Path) -> list[Path]:
    return sorted(locks.parent.glob(f"{locks.name}.untrusted-*"))


def test_the_lock_folder_is_made_by_sabaq_with_mode_0700(locks):
    lease_works(locks)
    assert moved_aside(locks) == []
    lease_works(locks)  # and kept: a folder of its own is used again


def test_a_folder_others_can_write_is_moved_aside_not_trusted(locks):
    locks.mkdir()
    os.chmod(locks, 0o777)
    (locks / str(POOL[0])).write_text("planted")
    lease_works(locks)
    [aside] = moved_aside(locks)
    assert (aside / str(POOL[0])).read_text() == "planted"  # left for the administrator, untouched


def test_a_planted_link_is_never_followed(locks, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    locks.symlink_to(target)
    lease_works(locks)
    assert list(target.iterdir()) == []  # no lease file was made through the link
    [aside] = moved_aside(locks)
    assert aside.is_symlink()


def test_a_file_in_its_place_is_moved_aside(locks):
    locks.write_text("not a folder")
    lease_works(locks)
    [aside] = moved_aside(locks)
    assert aside.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_students_folder_does_not_block_grading(locks):
    locks.mkdir(mode=0o700)
    os.chown(locks, 65534, 65534)  # a student's: made before the first grading after a reboot
    lease_works(locks)
    [aside] = moved_aside(locks)
    assert os.lstat(aside).st_uid == 65534


@pytest.mark.skipif(os.geteuid() != 0, reason="root's choice of folder")
def test_root_keeps_its_leases_where_only_root_may_create_anything():
    home = uids._locks_home()
    assert home == Path("/run")
    info = os.stat(home)
    assert info.st_uid == 0 and not info.st_mode & 0o022

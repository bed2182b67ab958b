"""Imports that sabaq's processes put off until they are used.

nbgrader's ``utils`` imports three functions from ``setuptools.archive_util``, for
unpacking archives of submissions (``nbgrader zip_collect``). Importing them imports
setuptools and pkg_resources, which reads every installed package's metadata: 0.14 s
at the start of every grading run, service and worker, on the way to a first
notebook. Until setuptools is imported for another reason, ``setuptools.archive_util``
is a stand-in whose functions import the real module at their first call.
"""

from __future__ import annotations

import importlib
import sys
import types

ARCHIVE_UTIL = "setuptools.archive_util"
NBGRADER_USES = ("unpack_archive", "unpack_tarfile", "unpack_zipfile")


class _ArchiveUtilOnFirstUse(types.ModuleType):
    """The functions nbgrader imports call the real ones; any other name imports the module."""

    def __getattr__(self, name):
        if name in NBGRADER_USES:
            def call(*args, **kwargs):
                return getattr(_real_archive_util(), name)(*args, **kwargs)

            call.__name__ = call.__qualname__ = name
            return call
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_archive_util(), name)


def _real_archive_util() -> types.ModuleType:
    if isinstance(sys.modules.get(ARCHIVE_UTIL), _ArchiveUtilOnFirstUse):
        del sys.modules[ARCHIVE_UTIL]
    return importlib.import_module(ARCHIVE_UTIL)


def put_off_archive_util() -> None:
    if "setuptools" not in sys.modules and ARCHIVE_UTIL not in sys.modules:
        sys.modules[ARCHIVE_UTIL] = _ArchiveUtilOnFirstUse(ARCHIVE_UTIL)

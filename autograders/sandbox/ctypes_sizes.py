"""ctypes as the grading sandbox's processes see it: the C types' names and sizes, no memory.

Once ``_ctypes`` is loaded in a process its classes are reachable from any code
(``object.__subclasses__``), and a Union of an integer and a pointer or a ``py_object``
reads and writes any address with no audit event: a student's answer could rewrite the
numbers a test compares with, or the grader's own objects (issue 15). So the zygote keeps
it out before anything is imported (``install``), and every child forked from it has
this module as ``ctypes``. Libraries that only ask the size of a C type at import (sympy:
``from ctypes import c_long, sizeof``) work; whatever needs memory (``Union``, ``cast``,
``CDLL``...) is an AttributeError that says why (an ImportError to ``from ctypes
import``), which libraries that make ctypes optional (numpy) take as its absence. The
sandbox's own kernel calls are in its native module (``_native``), which hands out no address.
"""

from __future__ import annotations

import struct
import sys

from sabaq.i18n import N_

# the refusal, shown in the cell's traceback in English like Python's own errors there
NO_MEMORY_MESSAGE = N_("ctypes.{name} is not available while a notebook is graded: it reads and writes the "
                       "grader's memory. Remove it from your answer and run the notebook again.")

# C type -> its struct format (sizes as this machine's C compiler has them)
FORMATS = {
    "c_bool": "?", "c_char": "c", "c_byte": "b", "c_ubyte": "B", "c_short": "h", "c_ushort": "H",
    "c_int": "i", "c_uint": "I", "c_long": "l", "c_ulong": "L", "c_longlong": "q", "c_ulonglong": "Q",
    "c_size_t": "N", "c_ssize_t": "n", "c_float": "f", "c_double": "d",
    "c_void_p": "P", "c_char_p": "P", "c_wchar_p": "P",
    "c_int8": "b", "c_uint8": "B", "c_int16": "h", "c_uint16": "H", "c_int32": "i", "c_uint32": "I",
    "c_int64": "q", "c_uint64": "Q",
}


class _Refusing(type):
    """C types' class: what only real ctypes has (``from_address``, ``from_buffer``...) says why it is missing."""

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(NO_MEMORY_MESSAGE.format(name=f"{cls.__name__}.{name}"))

    def __mul__(cls, length):  # an array type: memory
        raise TypeError(NO_MEMORY_MESSAGE.format(name=f"{cls.__name__} * {length!r}"))


class CType(metaclass=_Refusing):
    """A C type's name and size, holding a Python value: no memory behind it."""

    _type_ = "P"

    def __init__(self, value=None):
        self.value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


for _name, _format in FORMATS.items():
    globals()[_name] = _Refusing(_name, (CType,), {"_type_": _format, "__module__": "ctypes"})
del _name, _format


def sizeof(what) -> int:
    """The size in bytes of a C type or of a value of one."""
    kind = what if isinstance(what, type) else type(what)
    if not issubclass(kind, CType):
        raise TypeError("this type has no size")
    return struct.calcsize(kind._type_)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(NO_MEMORY_MESSAGE.format(name=name))


def install() -> None:
    """Make this module the process's ``ctypes`` and refuse ``_ctypes`` (before anything
    imports them: a loaded ``_ctypes`` cannot be taken back)."""
    check_kept_out()
    sys.modules["ctypes"] = sys.modules[__name__]
    sys.modules["_ctypes"] = None  # importing it is an ImportError (and, popped, refused by the audit hook)


def check_kept_out() -> None:
    """Raise if ``_ctypes`` is loaded after all (a library that imported it past ``install``):
    a sandbox forked from this process would give notebooks raw memory."""
    if sys.modules.get("_ctypes") is not None:
        raise RuntimeError("_ctypes is loaded in the grading sandbox: notebooks could write any memory")

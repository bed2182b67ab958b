"""numpy's arrays kept to memory they own while a notebook is graded (issue 15).

numpy makes an array over any address an object's ``__array_interface__`` names (a pointer,
or a buffer with an offset, shape and strides it does not check), with no audit event, and
``id()`` gives addresses: an answer cell could read and write the grading child's memory,
the test cells' numbers and the grader's objects included, as ctypes could before the
sandbox kept it out (``ctypes_sizes``). numpy reads that attribute in C, from any object
however it was made (a class, ``type()``, an instance's or a module's attribute,
``__getattr__``), so no check in Python stands between them.

``install`` puts one there, in the zygote before any notebook: numpy's own module reads
attributes through its table of imported functions, and ``_arrays`` points CPython's
attribute lookups there at checks of its own (in C: nothing a notebook changes is
consulted). numpy then sees, of an ``__array_interface__``, a copy made of checked values:
a buffer (kept exported while the array lives) with its offset, shape and strides inside
it, or a pointer only from ``ArrayWindow`` (numpy's as_strided helper, which keeps the
array it views) inside that array; never Python objects read from bytes. Capsules of raw
pointers (``__array_struct__``) are offered only by numpy's arrays, which numpy never asks.
Also closed in numpy's ndarray: ``ndarray(..., dtype=object, buffer=...)`` (bytes read as
object pointers), ``resize(refcheck=False)`` and ``__setstate__`` on an array with data
(they free memory other arrays may view). Honest numpy code (arrays of lists, pandas,
PIL images, sliding windows) is unchanged.
"""

from __future__ import annotations

from sabaq.i18n import N_

# numpy's shared object whose imported functions are pointed at the checks
NUMPY_CORE = "_multiarray_umath"
# shown in the cell's traceback, in English like Python's own errors there
ARRAY_REFUSED_MESSAGE = N_("numpy refused {what} while a notebook is graded: an array may only use memory that "
                           "belongs to it. Make arrays from your data (numpy.array, numpy.frombuffer) instead.")


def install() -> bool:
    """Guard numpy's array interface in this process and every process forked from it, if
    numpy is installed (it is imported here, so that it is guarded before any notebook can
    import it). False when numpy is missing; an error when it cannot be guarded (then no
    notebook may run: the zygote does not start)."""
    try:
        import numpy
        from numpy.lib import _stride_tricks_impl
    except ImportError:
        return False
    from sabaq.autograders.sandbox import _arrays

    _arrays.install(numpy.ndarray, numpy.dtype, ARRAY_REFUSED_MESSAGE, NUMPY_CORE)
    _stride_tricks_impl.DummyArray = _arrays.ArrayWindow  # as_strided's views keep their array
    return True

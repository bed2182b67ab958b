"""numpy's arrays kept to memory they own in the grading sandbox (issue 15): every way we
know to make numpy name raw memory is refused once the guard is installed, and honest numpy
code gives what it gives without it. The guard lasts for its process, so each test installs
it in a forked child (``processes.forked``)."""

from __future__ import annotations

import ast
import pickle

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from PIL import Image
from processes import forked

from sabaq.autograders.sandbox import _arrays, arrays

REFUSED = "numpy refused"


def guarded(run):
    """run() in a forked child with the guard installed: its repr, or its error's name and text."""
    def child():
        assert arrays.install() is True
        return run()

    return forked(child)


def outcome(attack) -> str:
    try:
        attack()
    except Exception as e:  # noqa: BLE001 - the refusal is the result
        return f"{type(e).__name__}: {e}"
    return "made"


def attacks(target: bytearray) -> dict:
    """Each a student's way to an array over ``target``'s bytes, which no array of hers owns."""
    address = np.frombuffer(target, "u1").__array_interface__["data"][0]
    pointer = {"data": (address, False), "shape": (4,), "typestr": "|u1", "version": 3}

    class Raw:
        pass

    instance = Raw()
    instance.__array_interface__ = pointer
    made_by_type = type("Made", (), {"__array_interface__": pointer})

    class Lookup:
        def __getattr__(self, name):
            if name == "__array_interface__":
                return pointer
            raise AttributeError(name)

    import types
    module = types.ModuleType("raw")
    module.__array_interface__ = pointer
    own = bytearray(4)
    own_address = np.frombuffer(own, "u1").__array_interface__["data"][0]

    def interface(**fields):
        raw = Raw()
        raw.__array_interface__ = {"typestr": "|u1", "version": 3, **fields}
        return raw

    small = np.zeros(1, "u1")
    small_address = small.__array_interface__["data"][0]
    from numpy.lib import _stride_tricks_impl

    def into(array):
        array[...] = 66

    def assign():
        out = np.zeros(4, "u1")
        out[:] = made_by_type()

    return {
        "pointer, an instance's attribute": lambda: into(np.asarray(instance)),
        "pointer, a class made by type()": lambda: into(np.array(made_by_type())),
        "pointer, __getattr__": lambda: into(np.asarray(Lookup())),
        "pointer, a module's attribute": lambda: into(np.asarray(module)),
        "pointer, in a ufunc": lambda: np.add(made_by_type(), 1, out=np.zeros(4, "u1")),
        "pointer, inside a list": lambda: np.array([made_by_type(), made_by_type()]),
        "pointer, assigned into an array": assign,
        "buffer and an offset": lambda: into(np.asarray(interface(data=own, shape=(1,), offset=address - own_address))),
        "buffer and a long shape": lambda: np.asarray(interface(data=own, shape=(abs(address - own_address) + 4,))),
        "buffer and strides": lambda: into(np.asarray(interface(data=own, shape=(2,), strides=(address - own_address,)))),
        "buffer read as objects": lambda: np.asarray(interface(data=bytes(16), shape=(2,), typestr="|O")),
        "buffer read as StringDType": lambda: np.asarray(interface(data=bytes(32), shape=(1,), typestr="T")),
        "as_strided outside its array": lambda: into(as_strided(small, shape=(2,), strides=(address - small_address,))),
        "numpy's as_strided helper forged": lambda: into(np.asarray(_stride_tricks_impl.DummyArray(
            dict(pointer), base=small))),
        "object array over a buffer": lambda: np.ndarray((1,), object, buffer=bytearray(8)),
        "object array over a buffer, keywords": lambda: np.ndarray(shape=(1,), dtype="O", buffer=bytearray(8)),
        "StringDType array over a buffer": lambda: np.ndarray((1,), "T", buffer=bytearray(16)),
        "record array of objects from bytes": lambda: np.rec.fromstring(bytes(8), dtype=[("a", "O")]),
        "resize without the reference check": lambda: np.zeros(10).resize(10**6, refcheck=False),
        "__setstate__ over an array's data": lambda: np.zeros(10).__setstate__(
            (1, (1,), np.dtype("u1"), False, b"\0")),
    }


def test_numpy_makes_no_array_over_memory_it_does_not_own():
    def run():
        target = bytearray(b"ABCD")
        return {name: outcome(attack) for name, attack in attacks(target).items()}, bytes(target)

    found = ast.literal_eval(guarded(run))
    results, target = found
    assert target == b"ABCD"
    not_refused = {name: text for name, text in results.items() if REFUSED not in text}
    assert not_refused == {}
    # without the guard these are numpy's ordinary behaviour: the test proves a refusal
    unguarded = ast.literal_eval(forked(lambda: {name: outcome(attack) for name, attack in attacks(bytearray(4)).items()
                                     if "pointer" in name or name.startswith("buffer and")}))
    assert set(unguarded.values()) == {"made"}


def test_the_refusal_says_what_and_what_to_do():
    text = guarded(lambda: outcome(lambda: np.ndarray((1,), object, buffer=bytearray(8))))
    assert text.startswith("'RuntimeError: numpy refused an array of Python objects over a buffer while a notebook is graded")
    assert "numpy.array, numpy.frombuffer" in text


def honest() -> list:
    """numpy as lessons use it, the array interface and as_strided included."""
    class Picture:  # as PIL's images offer themselves to numpy: bytes and a shape
        def __init__(self):
            self.__array_interface__ = {"data": bytes(range(12)), "shape": (2, 2, 3), "typestr": "|u1", "version": 3}

    buffer = bytearray(range(8))
    table = np.zeros(3, dtype=[("x", "<i4"), ("y", "<f8")])
    masked = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    growing = np.arange(3)
    growing.resize(5, refcheck=True)
    return [
        np.asarray(Picture()).tolist(),
        np.asarray(Image.new("RGB", (3, 2), (1, 2, 3))).tolist(),
        np.array(Image.fromarray(np.arange(6, dtype="u1").reshape(2, 3))).tolist(),
        np.asarray(memoryview(b"abcd")).tolist(),
        np.frombuffer(buffer, "<u4").tolist(),
        np.ndarray((2,), "<u2", buffer=buffer, offset=2).tolist(),
        as_strided(np.arange(10), shape=(3, 3), strides=(8, 8)).tolist(),
        sliding_window_view(np.arange(6), 3).sum(axis=1).tolist(),
        sliding_window_view(np.array([1, "a", None], dtype=object), 2).tolist(),
        sliding_window_view(table, 2)["y"].shape,
        np.broadcast_to(np.arange(3), (2, 3)).tolist(),
        np.lib.stride_tricks.as_strided(np.arange(4.0), writeable=False).flags.writeable,
        pickle.loads(pickle.dumps(np.arange(5.0))).tolist(),
        pickle.loads(pickle.dumps(np.array([1, "a"], dtype=object))).tolist(),
        pickle.loads(pickle.dumps(masked)).sum(),
        pickle.loads(pickle.dumps(np.matrix([[1, 2], [3, 4]]))).I.round(3).tolist(),
        np.rec.fromstring(bytes(range(16)), dtype=[("a", "<u8")]).a.tolist(),
        growing.tolist(),
        np.asarray(np.float64(2.5)).tolist(),
        (np.array([[1, 2], [3, 4]]) @ np.ones(2)).tolist(),
    ]


def test_honest_numpy_code_gives_what_it_gives_without_the_guard():
    assert guarded(honest) == repr(honest())


def test_a_view_keeps_what_it_views():
    """A view cannot outlive its memory: as_strided's array is kept read-only by its window, a
    buffer stays exported while an array over it lives."""
    def run():
        window = np.lib.stride_tricks.as_strided(np.arange(4), shape=(2,), strides=(8,))
        keeper = window.base
        data = bytearray(8)

        class Over:
            def __init__(self):
                self.__array_interface__ = {"data": data, "shape": (8,), "typestr": "|u1", "version": 3}

        over = np.asarray(Over())
        return (type(keeper).__name__, outcome(lambda: setattr(keeper, "base", None)),
                outcome(lambda: data.extend(bytes(4096))), over.shape)

    assert guarded(run) == repr(("ArrayWindow", "AttributeError: readonly attribute",
                                 "BufferError: Existing exports of data: object cannot be re-sized", (8,)))


def borrowed_capsule():
    """An object offering another array's capsule of C pointers (__array_struct__)."""
    class Borrowed:
        pass

    borrowed = Borrowed()
    borrowed.__array_struct__ = np.arange(3).__array_struct__
    made = np.asarray(borrowed)
    return made.dtype.kind, made.shape


def test_capsules_of_raw_pointers_are_not_taken():
    """numpy takes an object offering an __array_struct__ as a plain object instead."""
    assert guarded(borrowed_capsule) == repr(("O", ()))
    assert forked(borrowed_capsule) == repr(("i", (3,)))  # what numpy does unguarded


def test_subclasses_made_before_and_after_are_guarded():
    class Before(np.ndarray):
        pass

    def run():
        class After(np.ndarray):
            pass

        return [outcome(lambda cls=cls: cls((1,), object, buffer=bytearray(8))).split(" while")[0]
                for cls in (Before, After, np.ndarray)]

    assert guarded(run) == repr(["RuntimeError: numpy refused an array of Python objects over a buffer"] * 3)


def test_installed_once_per_process():
    def run():
        return _arrays.installed(), arrays.install(), _arrays.installed(), _arrays.install(
            np.ndarray, np.dtype, arrays.ARRAY_REFUSED_MESSAGE, arrays.NUMPY_CORE)

    assert forked(run) == repr((False, True, True, False))


def test_numpys_lookups_are_the_ones_pointed_at_the_checks():
    """numpy 2's PyArray_LookupSpecial_OnInstance reads __array_interface__ with
    _PyObject_LookupAttr: its entry in numpy's table is pointed at the check (a numpy that
    looked the attribute up otherwise would fail test_numpy_makes_no_array_...)."""
    counts = forked(lambda: _arrays.install(np.ndarray, np.dtype, arrays.ARRAY_REFUSED_MESSAGE, arrays.NUMPY_CORE))
    assert ast.literal_eval(counts)["_PyObject_LookupAttr"] >= 1, counts


def test_a_numpy_it_cannot_guard_is_an_error():
    """The zygote does not start (no notebook runs) when numpy's lookups cannot be redirected."""
    text = forked(lambda: _arrays.install(np.ndarray, np.dtype, arrays.ARRAY_REFUSED_MESSAGE, "no_such_library"))
    assert text.startswith("RuntimeError: no_such_library looks up no attribute"), text

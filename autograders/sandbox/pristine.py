"""The grading machinery as the zygote built it, put back before each test cell (issue 15).

Answer cells run before the test cells that grade them, in the same process: they can
replace builtins, numpy's or math's functions, IPython's error display, its formatters,
hooks, transformers and callbacks, sys's hooks. ``Pristine`` snapshots all of that once in
the zygote and restores it before every test cell, by identity, calling no method of a
student's object; ``tampered`` tells whether the student's code changed it while a test ran.
"""

from __future__ import annotations

import array
import builtins
import collections
import fractions
import operator
import sys
import threading
import types
from itertools import repeat

from sabaq.autograders.sandbox._native import (
    dict_versions,
    keys_within,
    same_cells,
    same_defaults,
    same_dicts,
    same_types,
    same_values,
    versions_changed,
)
from sabaq.autograders.sandbox.comparisons import (
    COMPARE_NAME,
    HEAPTYPE,
    KINDS,
    StrictComparisons,
    install_compare,
    mro,
)

_MISSING = object()
_is = operator.is_
IMMUTABLETYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE


# Modules whose names a test may use, kept as they were in the zygote (when imported there):
# names replaced or deleted go back; names a student added stay.
GUARDED_MODULES = (
    "builtins", "math", "cmath", "operator", "functools", "itertools", "collections", "collections.abc", "re",
    "json", "json.decoder", "json.encoder", "random", "statistics", "fractions", "decimal", "_decimal", "string",
    "numbers", "copy", "types", "abc", "warnings", "traceback", "linecache", "inspect", "unittest", "io", "os",
    "pandas", "pandas.testing", "pandas._testing", "pandas.core.frame", "pandas.core.series", "pandas.core.generic",
    "pandas.core.arraylike", "pandas.core.ops", "matplotlib_inline.backend_inline", "IPython", "IPython.display",
    "IPython.lib.pretty", "stack_data", "executing",
)
# ... and every module under these (numpy and IPython's machinery, sabaq's sandbox)
GUARDED_PREFIXES = ("numpy.", "IPython.core.", "IPython.utils.", "traitlets.", "sabaq.autograders.sandbox.")
GUARDED_PACKAGES = ("numpy", "traitlets")
UNGUARDED_PREFIXES = ("numpy._typing", "numpy.typing", "numpy._pyinstaller", "numpy.tests", "numpy.f2py")
# Modules whose functions a test cell itself may replace to test an answer (input() fed,
# random made predictable): a change to them while a test runs is not counted as tampering.
MOCKABLE_MODULES = frozenset({"builtins", "random", "time", "datetime", "os", "io", "getpass"})
# Modules whose entries a grading child pins (``Pristine.pin``: builtins.input refused)
PINNABLE_MODULES = frozenset({"builtins"})
# Entries of guarded modules that are state a cell changes, not machinery: IPython's event
# loop for cells that await, made at the first (made in the zygote, the children would share
# its epoll descriptor)
MODULE_STATE = {"IPython.core.async_helpers": frozenset({"_asyncio_event_loop"})}
# sys's entries that are not the grader's to keep (the child's streams and path, IPython's
# last error), and entries that change as a cell runs
SYS_SKIP = frozenset({"stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__", "path", "argv",
                      "orig_argv", "last_type", "last_value", "last_traceback", "last_exc", "ps1", "ps2", "ps3",
                      "path_importer_cache"})
# The shell's parts a test depends on, restored by identity with their classes and own dicts.
SHELL_PARTS = ("displayhook", "display_pub", "display_formatter", "display_trap", "builtin_trap", "InteractiveTB",
               "SyntaxTB", "CustomTB", "events", "compile", "input_transformer_manager", "hooks", "history_manager",
               "payload_manager", "prefilter_manager", "magics_manager", "extension_manager", "data_pub",
               "custom_exceptions", "sys_excepthook", "inspector", "alias_manager", "_post_execute")
# entries of these parts' own dicts and traits that change as cells run
PART_STATE = frozenset({"data", "metadata", "prompt_count", "exec_result", "_is_active", "_nested_level",
                        "_orig_sys_module_state", "tb", "tb_offset", "_last_input_line", "session_number",
                        "input_hist_parsed", "input_hist_raw", "output_hist", "output_hist_reprs", "dir_hist",
                        "db_input_cache", "db_output_cache", "_i", "_ii", "_iii", "_i00", "_exit_code",
                        "_cache", "_filename_map", "_shown", "pdb", "last_execution_succeeded",
                        "last_execution_result", "execution_count", "parent", "_payload", "format_record",
                        "_saved_traceback", "_fname_counter", "showing_traceback", "chain",
                        "last_syntax_error"})


def _flags(cls) -> int:
    return type.__dict__["__flags__"].__get__(cls)


def _is_machinery(value) -> bool:
    """A value the test relies on by identity: a function, a class, an object with methods."""
    return not isinstance(value, (int, float, str, bytes, bool, type(None), tuple))


_NO_DICT = types.MappingProxyType({})


def own_dict(obj):
    """An object's own attributes (one empty read-only mapping for objects without any)."""
    try:
        own = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return _NO_DICT
    return own if type(own) is dict else _NO_DICT


class _DictVersions:
    """Which dicts may have changed since last seen, from CPython's dict version tag (PEP
    509: a process-wide counter stamped on a dict at each change), read by the sandbox's
    native module (no ctypes in the sandbox). Reading 350 tags takes microseconds where
    comparing their 12,000 entries takes about half a millisecond. Where the tags do not
    change as expected (checked on a dict of our own), every dict counts as changed and is
    compared entry by entry."""

    def __init__(self, dicts: list):
        self.dicts: tuple | None = None
        self.tags = array.array("Q")
        self.count = len(dicts)
        if not self._tags_change():
            return
        import gc

        # a class's mappingproxy: the dict behind it (its tags are read from it: it must live)
        self.dicts = tuple(d if type(d) is dict else next(r for r in gc.get_referents(d) if type(r) is dict)
                           for d in dicts)
        # compared in C (versions_changed): no integer object read, none made, for a dict that did not change
        self.tags = array.array("Q", dict_versions(self.dicts))

    @staticmethod
    def _tags_change() -> bool:
        probe: dict = {}
        (before,) = dict_versions((probe,))
        probe["a"] = 1
        (middle,) = dict_versions((probe,))
        del probe["a"]
        return before != middle != dict_versions((probe,))[0]

    def changed(self) -> list[int]:
        if self.dicts is None:
            return list(range(self.count))
        return versions_changed(self.dicts, self.tags)

    def seen(self, index: int) -> None:
        if self.dicts is not None:
            self.tags[index] = dict_versions((self.dicts[index],))[0]


class _Dict:
    """One dict (a module's, a class's, a printer table) and the entries it must keep."""

    __slots__ = ("allow_missing", "cls", "drop_added", "keys", "label", "live", "positions", "size", "values")

    def __init__(self, label: str, live, drop_added: bool, skip=frozenset(), cls=None, allow_missing=False,
                 pinnable=False):
        """pinnable: ``remember`` may be called (in a grading child, see ``Pristine.pin``):
        the entries' positions are kept, so that it changes one entry in place; copying
        every entry (a module's hundreds) wrote to each entry's object, a copy-on-write page
        fault for each page of them in a fresh fork."""
        self.label = label
        self.live = live
        items = [(k, v) for k, v in live.items() if k not in skip]
        self.keys = [k for k, _ in items]
        self.values = [v for _, v in items]
        self.positions = {k: i for i, (k, _) in enumerate(items)} if pinnable else None
        self.size = len(live)
        self.drop_added = drop_added
        self.cls = cls  # a class: set through type.__setattr__ so its caches follow
        self.allow_missing = allow_missing  # entries may go (IPython moves deferred printers)

    def remember(self, key: str) -> None:
        """Take the entry ``key`` as it is now as part of the snapshot (in place: the quick
        check's rows hold these same lists)."""
        positions = self.positions if self.positions is not None else {k: i for i, k in enumerate(self.keys)}
        position = positions.get(key)
        if position is None:
            positions[key] = len(self.keys)
            self.keys.append(key)
            self.values.append(self.live[key])
        else:
            self.values[position] = self.live[key]
        self.size = len(self.live)

    def changed(self) -> bool:
        live = self.live
        if not all(map(_is, map(live.get, self.keys, repeat(_MISSING)), self.values)):
            if not self.allow_missing:
                return True
            return any(live.get(k, v) is not v for k, v in zip(self.keys, self.values))
        return self.drop_added and len(live) != self.size

    def changed_keys(self) -> list:
        """The entries no longer as remembered (replaced or gone)."""
        live = self.live
        return [k for k, v in zip(self.keys, self.values) if live.get(k, _MISSING) is not v
                and not (self.allow_missing and k not in live)]

    def fix(self) -> None:
        live, cls = self.live, self.cls
        for key, value in zip(self.keys, self.values):
            current = live.get(key, _MISSING)
            if current is not value and not (current is _MISSING and self.allow_missing):
                if cls is not None:
                    type.__setattr__(cls, key, value)
                else:
                    live.pop(key, None)  # drops a look-alike key object too
                    live[key] = value
        if self.drop_added and len(live) != self.size:
            known = set(self.keys)
            for key in [k for k in live if type(k) is not str or k not in known]:
                if cls is not None:
                    type.__delattr__(cls, key)
                else:
                    del live[key]


class _List:
    """A list the shell iterates (transformers, callbacks, import hooks) and its items."""

    __slots__ = ("items", "keep", "label", "live")

    def __init__(self, label: str, live: list, keep=None):
        self.label, self.live, self.items, self.keep = label, live, tuple(live), keep

    def changed(self) -> bool:
        live = self.live
        return len(live) != len(self.items) or not all(map(_is, live, self.items))

    def fix(self) -> None:
        keep = self.keep
        extra = [item for item in self.live if keep is not None and keep(item)]
        list.__setitem__(self.live, slice(None), [*self.items, *extra])


class _Table:
    """A cache the traceback formatting reads (``shell._styles``, ``shell._formatters``): any
    keys, compared in order by identity (no key's ``__hash__`` or ``__eq__`` runs), put back
    whole."""

    __slots__ = ("items", "label", "live")

    def __init__(self, label: str, live: dict):
        self.label, self.live, self.items = label, live, tuple(live.items())

    def changed(self) -> bool:
        live = self.live
        return len(live) != len(self.items) or not all(
            a is k and b is v for (a, b), (k, v) in zip(dict.items(live), self.items))

    def fix(self) -> None:
        dict.clear(self.live)
        for key, value in self.items:
            dict.__setitem__(self.live, key, value)


class _Members:
    """A set of the types comparisons trust (``comparisons.KINDS``): its members by identity
    (no member's ``__hash__`` or ``__eq__`` runs). A static type added since (numpy's,
    learnt in a child) may stay: a notebook cannot make one; anything else goes."""

    __slots__ = ("ids", "items", "label", "live")

    def __init__(self, label: str, live: set):
        self.label, self.live, self.items = label, live, tuple(live)
        self.ids = frozenset(map(id, self.items))

    def _kept(self) -> list | None:
        """The members to keep, None when they are the snapshot's."""
        live, ids = self.live, self.ids
        present = set(map(id, live))
        if len(live) == len(self.items) and present == ids:
            return None
        added = [m for m in list(live) if id(m) not in ids]
        if len(present & ids) == len(ids) and all(issubclass(type(m), type) and not _flags(m) & HEAPTYPE
                                                  for m in added):
            return None
        return [*self.items, *(m for m in added if issubclass(type(m), type) and not _flags(m) & HEAPTYPE)]

    def changed(self) -> bool:
        return self._kept() is not None

    def fix(self) -> None:
        kept = self._kept()
        if kept is not None:
            set.clear(self.live)
            set.update(self.live, kept)


class _Object:
    """An object of the shell's machinery: its class, its own dict and traits (methods
    shadowed on the instance go), and the parts it holds by identity."""

    __slots__ = ("cls", "entries", "label", "obj", "shadow_ok", "traits")

    def __init__(self, label: str, obj):
        self.label, self.obj, self.cls = label, obj, type(obj)
        own = own_dict(obj)
        self.entries = _Dict(f"{label}.__dict__", own, False, pinnable=True,
                             skip={k for k, v in own.items() if k in PART_STATE or not _is_machinery(v)})
        traits = own.get("_trait_values")
        self.traits = (_Dict(f"{label} traits", traits, False, pinnable=True,
                             skip={k for k, v in traits.items() if k in PART_STATE or not _is_machinery(v)})
                       if type(traits) is dict else None)
        self.shadow_ok = frozenset(own)

    def _shadows(self) -> list[str]:
        """Names set on the instance since the capture that hide a method of its class
        (other new names, like the child's recorder, are remembered as harmless)."""
        own = own_dict(self.obj)
        if self.shadow_ok.issuperset(own):
            return []
        found, harmless = [], []
        for key in list(own):
            if key in self.shadow_ok:
                continue
            if type(key) is not str:
                found.append(key)
                continue
            for base in mro(self.cls):
                value = base.__dict__.get(key, _MISSING)
                if value is not _MISSING:
                    if callable(value) or hasattr(type(value), "__get__"):
                        found.append(key)
                    break
            if not found or found[-1] is not key:
                harmless.append(key)
        if harmless:
            self.shadow_ok = self.shadow_ok.union(harmless)
        return found

    def changed(self) -> bool:
        return (type(self.obj) is not self.cls or own_dict(self.obj) is not self.entries.live
                or self.entries.changed()
                or (self.traits is not None and self.traits.changed()) or bool(self._shadows()))

    def fix(self) -> None:
        if type(self.obj) is not self.cls:
            object.__setattr__(self.obj, "__class__", self.cls)
        if own_dict(self.obj) is not self.entries.live:
            object.__setattr__(self.obj, "__dict__", self.entries.live)
        self.entries.fix()
        if self.traits is not None:
            self.traits.fix()
        own = own_dict(self.obj)
        for key in self._shadows():
            del own[key]


class _Module:
    """A module: the same object in sys.modules, of its own class, its dict's entries."""

    __slots__ = ("cls", "entries", "label", "mockable", "module", "name")

    def __init__(self, name: str, module, skip=frozenset()):
        self.label, self.name, self.module, self.cls = name, name, module, type(module)
        self.entries = _Dict(name, module.__dict__, False, skip=skip, pinnable=name in PINNABLE_MODULES)
        self.mockable = name in MOCKABLE_MODULES

    def changed(self) -> bool:
        return (sys.modules.get(self.name) is not self.module or type(self.module) is not self.cls
                or self.entries.changed())

    def fix(self) -> None:
        if sys.modules.get(self.name) is not self.module:
            sys.modules[self.name] = self.module
        if type(self.module) is not self.cls:
            object.__setattr__(self.module, "__class__", self.cls)
        self.entries.fix()


def _matplotlib_callbacks() -> tuple:
    """The post_execute callbacks ``%matplotlib inline`` registers (pyplot's and the inline
    backend's), recognised by their names and the files of their code (they may load
    after the capture)."""
    import importlib.util
    import os

    allowed: list = []
    for package, module, name in (("matplotlib", "pyplot", "_draw_all_if_interactive"),
                                  ("matplotlib_inline", "backend_inline", "flush_figures")):
        try:  # the package's own spec: finding the submodule's would import the package
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            allowed.append((name, os.path.join(os.path.dirname(spec.origin), module + ".py"), f"{package}.{module}"))
    return tuple(allowed)


class _Callback:
    """The shell's event callbacks: the lists of the capture, plus matplotlib's own figure
    drawing (registered by ``%matplotlib inline``, after the test's code has run), nothing a
    student registered: a pre_run_cell callback would patch after the restore, a
    post_run_cell one would clear the test's output."""

    __slots__ = ("allowed", "events", "items", "label", "lists")

    def __init__(self, events, allowed: tuple):
        self.label, self.events, self.allowed = "events.callbacks", events, allowed
        self.lists = dict(events.callbacks)
        self.items = {name: tuple(callbacks) for name, callbacks in self.lists.items()}

    def _allowed(self, name: str, callback) -> bool:
        if name != "post_execute":
            return False
        for allowed in self.allowed:
            if callback is allowed:
                return True
            if type(allowed) is tuple and type(callback) is types.FunctionType \
                    and callback.__name__ == allowed[0] and callback.__code__.co_filename == allowed[1]:
                # the function of the module loaded under that name, not a look-alike elsewhere
                module = sys.modules.get(allowed[2])
                return (type(module) is types.ModuleType and module.__dict__.get(allowed[0]) is callback
                        and callback.__globals__ is module.__dict__)
        return False

    def changed(self) -> bool:
        live = own_dict(self.events).get("callbacks")
        if type(live) is not dict or len(live) != len(self.lists):
            return True
        for name, callbacks in self.lists.items():
            current = live.get(name)
            if current is not callbacks or type(current) is not list:
                return True
            items = self.items[name]
            if (len(current) != len(items) or not all(map(_is, current, items))) and (
                    not all(self._allowed(name, cb) for cb in current if not any(cb is i for i in items))
                    or not all(any(i is cb for cb in current) for i in items)):
                return True
        return False

    def fix(self) -> None:
        live = self.events.__dict__.get("callbacks")
        kept = {name: [cb for cb in (live.get(name, ()) if type(live) is dict and type(live.get(name)) is list
                                     else ()) if self._allowed(name, cb)] for name in self.lists}
        self.events.__dict__["callbacks"] = live if type(live) is dict else {}
        live = self.events.__dict__["callbacks"]
        live.clear()
        for name, callbacks in self.lists.items():
            list.__setitem__(callbacks, slice(None), [*self.items[name], *kept[name]])
            live[name] = callbacks


class _Hooks:
    """sys's tracing and profiling functions, and threading's for new threads."""

    label = "sys.settrace/setprofile"

    def __init__(self):
        self.trace, self.profile = sys.gettrace(), sys.getprofile()
        self.gettrace, self.getprofile = sys.gettrace, sys.getprofile
        self.settrace, self.setprofile = sys.settrace, sys.setprofile
        self.threading = threading.__dict__
        self.thread_hooks = {k: threading.__dict__.get(k) for k in ("_trace_hook", "_profile_hook")}

    def changed(self) -> bool:
        return (self.gettrace() is not self.trace or self.getprofile() is not self.profile
                or any(self.threading.get(k) is not v for k, v in self.thread_hooks.items()))

    def fix(self) -> None:
        if self.gettrace() is not self.trace:
            self.settrace(self.trace)
        if self.getprofile() is not self.profile:
            self.setprofile(self.profile)
        self.threading.update(self.thread_hooks)


class Pristine:
    """The grading machinery as the zygote built it, put back before each test cell.

    ``capture`` runs once in the zygote (after the shell's warm-up, before forking);
    ``restore`` runs in the child right before each test cell and takes well under a
    millisecond when nothing changed (identity checks, no method of a student's object is
    ever called); ``tampered`` tells, right after a test cell, whether anything changed
    while it ran (an answer function that patches as the test calls it): then the test's
    result cannot be trusted. What a student defined in their own namespace stays.
    """

    def __init__(self, guards: list, shell):
        self.guards = guards
        self.user_keys = (COMPARE_NAME,)
        self._index()

    def _index(self) -> None:
        """Flat tables for the quick check: every dict's (live, keys, values) in one list,
        modules and objects with their classes, lists with their items."""
        self._dicts, self._sized, self._rest = [], [], []
        self._rows: dict[int, int] = {}  # id of a table -> its row in _dicts (see ``pin``)
        self._owners: dict[int, list] = {}  # id of a module or object -> its guards (see ``pin``)
        modules, objects, loose = [], [], []
        for guard in self.guards:
            entries = [guard] if isinstance(guard, _Dict) else []
            if isinstance(guard, _Module):
                modules.append(guard)
                entries = [guard.entries]
            elif isinstance(guard, _Object):
                objects.append(guard)
                entries = [guard.entries] + ([guard.traits] if guard.traits is not None else [])
            elif not isinstance(guard, _Dict):
                self._rest.append(guard)
            if isinstance(guard, (_Module, _Object)):
                self._owners.setdefault(id(guard.module if isinstance(guard, _Module) else guard.obj), []).append(guard)
            for d in entries:
                if d.allow_missing:
                    loose.append(d)
                else:
                    self._rows[id(d)] = len(self._dicts)
                    self._dicts.append((d.live, d.keys, d.values, tuple(d.keys)))
                if d.drop_added:
                    self._sized.append((d.live, d.size))
        self._module_names = tuple(m.name for m in modules)
        self._modules = tuple(m.module for m in modules)
        self._module_classes = tuple(m.cls for m in modules)
        self._objects = tuple(o.obj for o in objects)
        self._object_classes = tuple(o.cls for o in objects)
        self._object_guards = tuple(objects)
        self._object_dicts = tuple(o.entries.live for o in objects)
        self._versions = _DictVersions([row[0] for row in self._dicts])
        # tables whose entries may go (IPython moves a deferred printer once its type is seen):
        # compared entry by entry, in Python, once one went; so only when their tag changed
        self._loose = tuple(loose)
        self._loose_versions = _DictVersions([d.live for d in loose])

    def _untouched(self) -> bool:
        """Nothing changed (the common case): identity checks only, in C loops; those of the
        native module hold no reference to what they compare (a reference count written is a
        copy-on-write page fault in a fresh child, see ``_native.same_values``). A row whose
        keys a pin added to since the zygote (its tuple of them is older) is read in Python."""
        is_, missing, tables = _is, _MISSING, self._versions.dicts  # a class's: the dict behind its proxy
        for index in self._versions.changed():
            live, keys, values, fixed = self._dicts[index]
            table = tables[index] if tables is not None else live
            if not (same_values(table, fixed, values, missing) if type(table) is dict and len(fixed) == len(keys)
                    else all(map(is_, map(live.get, keys, repeat(missing)), values))):
                return False
            self._versions.seen(index)
        for live, size in self._sized:
            if len(live) != size:
                return False
        if not same_values(sys.modules, self._module_names, self._modules, None) \
                or not same_types(self._modules, self._module_classes) \
                or not same_types(self._objects, self._object_classes) \
                or not same_dicts(self._objects, self._object_dicts, _NO_DICT):
            return False
        for guard, own in zip(self._object_guards, self._object_dicts):
            if not (own is _NO_DICT or keys_within(own, guard.shadow_ok)) and guard._shadows():
                return False
        for index in self._loose_versions.changed():
            if self._loose[index].changed():
                return False
            self._loose_versions.seen(index)
        return not any(guard.changed() for guard in self._rest)

    @classmethod
    def capture(cls, shell) -> Pristine:
        install_compare()
        KINDS.learn_pandas(trusted=True)
        guards: list = []
        names = [n for n in GUARDED_MODULES if n in sys.modules]
        names += sorted(n for n in list(sys.modules) if (n.startswith(GUARDED_PREFIXES) or n in GUARDED_PACKAGES)
                        and not n.startswith(UNGUARDED_PREFIXES))
        seen = set()
        for name in names:
            module = sys.modules.get(name)
            if module is None or name in seen or not isinstance(module, types.ModuleType):
                continue
            seen.add(name)
            guards.append(_Module(name, module, skip=MODULE_STATE.get(name, frozenset())))
        guards.append(_Module("sys", sys, skip=SYS_SKIP))
        guards.append(_List("sys.meta_path", sys.meta_path))
        guards.append(_List("sys.path_hooks", sys.path_hooks))
        guards.append(_Hooks())
        guards.append(_Signals())
        import gc

        guards.append(_List("gc.callbacks", gc.callbacks))
        # the shell's parts: their classes, instances, lists and tables
        parts: dict[str, object] = {"shell": shell}
        for name in SHELL_PARTS:
            value = getattr(shell, name, None)
            if value is not None and _is_machinery(value):
                parts[name] = value
        formatter = shell.display_formatter
        for mime, f in formatter.formatters.items():
            parts[f"formatter[{mime}]"] = f
        for name in ("ipython_display_formatter", "mimebundle_formatter"):
            if getattr(formatter, name, None) is not None:
                parts[f"formatter.{name}"] = getattr(formatter, name)
        classes: dict[type, None] = {}
        for label, part in parts.items():
            if isinstance(part, (tuple, list, dict)) and label != "hooks":
                continue
            guards.append(_Object(label, part))
            classes.update(dict.fromkeys(mro(type(part))))
        for extra in _extra_classes():
            classes.update(dict.fromkeys(mro(extra)))
        for klass in classes:
            if klass is object or _flags(klass) & IMMUTABLETYPE or not _flags(klass) & HEAPTYPE:
                continue
            guards.append(_Dict(f"class {klass.__module__}.{klass.__qualname__}", klass.__dict__, True,
                                skip={"_instance"} if klass.__dict__.get("_instance") is shell else (), cls=klass))
        guards.append(_Dict("shell.hooks", shell.hooks, True))
        for mime, f in formatter.formatters.items():
            for table in ("type_printers", "deferred_printers", "singleton_printers"):
                value = getattr(f, table, None)
                if type(value) is dict:  # a printer added for a new type (matplotlib's) stays
                    guards.append(_Dict(f"formatter[{mime}].{table}", value, False,
                                        allow_missing=table == "deferred_printers"))
        guards.append(_Dict("display_formatter.formatters", formatter.formatters, True))
        guards.append(_List("shell.ast_transformers", shell.ast_transformers,
                            keep=lambda t: type(t) is StrictComparisons))
        guards.append(_List("shell.input_transformers_post", shell.input_transformers_post))
        manager = shell.input_transformer_manager
        for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
            if type(getattr(manager, name, None)) is list:
                guards.append(_List(f"input_transformer_manager.{name}", getattr(manager, name)))
        if type(getattr(shell, "_post_execute", None)) is dict:
            guards.append(_Dict("shell._post_execute", shell._post_execute, True))
        if type(shell.custom_exceptions) is tuple:
            guards.append(_Value("shell.custom_exceptions", shell, "custom_exceptions"))
        guards.append(_Callback(shell.events, _matplotlib_callbacks()))
        guards += _traceback_caches()
        guards += _trusted_kinds()
        return cls(guards, shell)

    def pin_signals(self) -> None:
        """Take the signal handlers as they are now as pristine (call once in the child,
        after setting the grader's own, e.g. SIGALRM for the cell timeout)."""
        for guard in self.guards:
            if isinstance(guard, _Signals):
                guard.take()

    def pin(self, owner, name: str, value) -> None:
        """Set ``owner.name`` (a guarded module, the shell or one of its parts) for the
        child's life and make it part of the pristine state (``builtins.input`` refusing
        input, the shell's recorder). Call before any student code runs.

        Only the owner's own tables and their rows of the quick check change: indexing every
        guard again in each child (a fresh fork) wrote to thousands of the zygote's objects,
        and a copy-on-write page fault for each page of them (~1.5 ms a notebook)."""
        setattr(owner, name, value)
        for guard in self._owners.get(id(owner), ()):
            if isinstance(guard, _Module) and guard.module is owner:
                table = guard.entries
            elif isinstance(guard, _Object) and guard.obj is owner:
                traits = guard.traits
                table = traits if traits is not None and name in traits.live else guard.entries
                guard.shadow_ok = guard.shadow_ok | {name}
            else:
                continue
            table.remember(name)
            row = self._rows.get(id(table))
            if row is not None:  # its row holds the table's own lists, changed in place
                live, keys, values, fixed = self._dicts[row]
                if len(fixed) != len(keys):  # a key added: the native check's tuple of them too
                    self._dicts[row] = (live, keys, values, tuple(keys))
                self._versions.seen(row)
            if table.drop_added:
                self._sized = [(live, table.size if live is table.live else size) for live, size in self._sized]

    def tampered(self, shell, source: str = "") -> list[str]:
        """What differs from the pristine state now (nothing when untouched). Called right
        after a test cell, a change means code the test called (the student's) patched the
        grader while the test ran: the test's result cannot be trusted. Functions of the
        modules a test may mock itself (``MOCKABLE_MODULES``: input, random, ...) count only
        when the test's ``source`` does not mock them (see ``mocked_names``): a finaliser or a
        student's function replacing ``abs`` in the middle of a test is tampering."""
        if self._untouched():
            return self._user_changes(shell, fix=False)
        found, mocked = [], None
        for g in self.guards:
            if isinstance(g, _Module) and g.mockable and sys.modules.get(g.name) is g.module \
                    and type(g.module) is g.cls:
                keys = g.entries.changed_keys()
                if keys:
                    mocked = mocked_names(source) if mocked is None else mocked
                    found += [f"{g.name}.{k}" for k in keys if k not in mocked]
            elif g.changed():
                found.append(g.label)
        found += self._user_changes(shell, fix=False)
        return found

    def restore(self, shell) -> None:
        """Put back everything that differs; keep the student's own names."""
        if self._untouched():
            self._user_changes(shell, fix=True)
            return
        for guard in self.guards:
            if guard.changed():
                guard.fix()
        self._user_changes(shell, fix=True)

    def _user_changes(self, shell, fix: bool) -> list[str]:
        """The user namespace must not hide the comparison functions or builtins."""
        found = []
        for ns in {id(d): d for d in (shell.user_ns, shell.user_global_ns)}.values():
            for name in self.user_keys:
                if name in ns:
                    found.append(f"user namespace: {name}")
                    if fix:
                        del ns[name]
            if ns.get("__builtins__", builtins) is not builtins:
                found.append("user namespace: __builtins__")
                if fix:
                    ns["__builtins__"] = builtins
        return found


class _Value:
    """One attribute held by identity (a tuple the shell reads, like custom_exceptions)."""

    __slots__ = ("label", "name", "owner", "value")

    def __init__(self, label: str, owner, name: str):
        self.label, self.owner, self.name = label, owner, name
        self.value = object.__getattribute__(owner, "__dict__").get(name, _MISSING)

    def changed(self) -> bool:
        return object.__getattribute__(self.owner, "__dict__").get(self.name, _MISSING) is not self.value

    def fix(self) -> None:
        own = object.__getattribute__(self.owner, "__dict__")
        if self.value is _MISSING:
            own.pop(self.name, None)
        else:
            own[self.name] = self.value


def _traceback_caches() -> list:
    """The style classes and formatters the shell made once for every traceback (see
    ``shell._one_style``): the tables, each formatter (its class, its own entries) and each
    style class (its dict, its metaclass). A notebook reaches them by importing the module;
    what it put there ran while a test cell's traceback was formatted."""
    module = sys.modules.get("sabaq.autograders.sandbox.shell")
    if module is None:
        return []
    guards: list = []
    for label in ("_styles", "_formatters"):
        table = module.__dict__.get(label)
        if type(table) is not dict:
            continue
        guards.append(_Table(f"shell.{label}", table))
        for value in [*table.values(), *(k for k in table if isinstance(k, type))]:
            if isinstance(value, type):
                guards.append(_Object(f"style {value.__qualname__}", value))  # its metaclass
                guards.append(_Dict(f"class {value.__qualname__}", value.__dict__, True, cls=value))
            else:
                guards.append(_Object(f"formatter {type(value).__qualname__}", value))
    return guards


def _trusted_kinds() -> list:
    """The types comparisons trust to compare honestly (``comparisons.KINDS``): the object's
    own entries and each set's members. A notebook reaches the object by importing the module;
    a class of its own added there would be compared by its ``__eq__``."""
    guards: list = [_Object("comparisons.KINDS", KINDS)]
    for name, members in own_dict(KINDS).items():
        if type(members) is set:
            guards.append(_Members(f"comparisons.KINDS.{name}", members))
    return guards


# IPython's token transformers and prompt strippers (classes the input transformer manager
# lists, not instances of the shell's parts): a method replaced there (HelpEnd.find,
# TokenTransformBase.sortby) rewrote a test cell's text before it ran, into ``pass``
TRANSFORMER_CLASSES = ("TokenTransformBase", "MagicAssign", "SystemAssign", "EscapedCommand", "HelpEnd",
                       "PromptStripper")


def _extra_classes() -> list[type]:
    """Classes outside the shell whose methods tests or the shell use."""
    found: list[type] = [fractions.Fraction, collections.Counter, collections.OrderedDict]
    interactive = sys.modules.get("IPython.core.interactiveshell")
    if interactive is not None:
        found += [interactive.ExecutionResult, interactive.ExecutionInfo]
    pretty = sys.modules.get("IPython.lib.pretty")
    if pretty is not None:
        found.append(pretty.RepresentationPrinter)
    transformers = sys.modules.get("IPython.core.inputtransformer2")  # each cell's text goes through them
    if transformers is not None:
        found += [getattr(transformers, name) for name in TRANSFORMER_CLASSES
                  if isinstance(getattr(transformers, name, None), type)]
    found += [t for t in KINDS.arrays]
    np = sys.modules.get("numpy")
    if np is not None:
        testing = sys.modules.get("numpy.testing")
        for name in ("TestCase",):
            if testing is not None and isinstance(testing.__dict__.get(name), type):
                found.append(testing.__dict__[name])
    return found


class _Signals:
    """Signal handlers and the CPU-time interval timers: a student's handler would run in
    the middle of a test cell, able to patch what the test is about to use and to put it
    back before the test ends."""

    label = "signal handlers"

    def __init__(self):
        import _signal
        import signal

        self.signal = signal
        # the handlers as the kernel module has them (0 and 1 for SIG_DFL and SIG_IGN): signal's
        # own getsignal makes an enum member of each, 60 a check, several checks a test cell
        self.getsignal = _signal.getsignal
        # SIGALRM is the cell timeout's: the grader sets its handler before every cell
        self.numbers = tuple(n for n in range(1, signal.NSIG)
                             if n not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGALRM))
        self.handlers: tuple = ()
        self.take()

    def take(self) -> None:
        getsignal = self.getsignal
        self.handlers = tuple(getsignal(n) for n in self.numbers)

    def _timers(self) -> bool:
        getitimer = self.signal.getitimer
        return getitimer(self.signal.ITIMER_VIRTUAL) != (0.0, 0.0) or getitimer(self.signal.ITIMER_PROF) != (0.0, 0.0)

    def changed(self) -> bool:
        return not all(map(_is, map(self.getsignal, self.numbers), self.handlers)) or self._timers()

    def fix(self) -> None:
        signal = self.signal
        for number, handler in zip(self.numbers, self.handlers):
            if self.getsignal(number) is not handler and handler is not None:
                signal.signal(number, handler)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)




GRADER_PREFIX = "sabaq.autograders.sandbox."
MODULE_NOISE = frozenset({"__warningregistry__"})  # a module's entry that warnings add as they are shown


_EMPTY_CELL = object()


def _closures(functions) -> list[tuple]:
    """(function, its closure's cells, what each held, its defaults, its keyword defaults) for
    each function given and each function found in their closures, once each. A closure cell
    can be rebound from any cell (``f.__closure__[0].cell_contents = ...``, with no audit
    event): the run_code every test cell runs through, the grader's recorders and the
    traceback formatter hold what they call in closures."""
    found, seen, todo = [], set(), list(functions)
    while todo:
        value = todo.pop()
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            todo += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            continue
        if type(value) is not types.FunctionType or id(value) in seen:
            continue
        seen.add(id(value))
        cells = value.__closure__ or ()
        held = []
        for cell in cells:
            try:
                held.append(cell.cell_contents)
            except ValueError:  # not yet set
                held.append(_EMPTY_CELL)
        found.append((value, cells, tuple(held), value.__defaults__, value.__kwdefaults__))
        todo += [h for h in held if type(h) in (types.FunctionType, staticmethod, classmethod, property)]
    return found


def grader_seal(prefix: str = GRADER_PREFIX, functions: tuple = ()):
    """A function that puts the grader's own modules and classes back as they are now, and
    names what it had to put back.

    The grader's classes are reachable from any cell (``object.__subclasses__()``): a
    method replaced there (``TestCellGuard.result_text``, ``Pristine.restore``) would run
    in the grader's place, the restore that should undo it included. So the grading loop
    calls this first, through a reference of its own, before anything of the grader's runs
    around a test cell: every module under ``prefix`` (the same object in sys.modules, its
    entries; a name added there would shadow a builtin the module uses) and every class
    defined there (its dict and its metaclass). Made before the audit guard (it reads the
    dicts' version tags, see ``_DictVersions``). The closure cells, defaults and keyword
    defaults of every function found there, and of ``functions`` (the grader's functions held
    elsewhere: the shell's traceback formatter), are put back too."""
    tables = []  # (label, class or None, live mapping, keys, values)
    modules, metas = [], []
    for name, module in sorted(sys.modules.items()):
        if not name.startswith(prefix) or not isinstance(module, types.ModuleType):
            continue
        modules.append((name, module))
        live = module.__dict__
        tables.append((name, None, live, tuple(k for k in live if k not in MODULE_NOISE),
                       tuple(v for k, v in live.items() if k not in MODULE_NOISE)))
        for value in list(live.values()):
            if isinstance(value, type) and value.__dict__.get("__module__") == name and _flags(value) & HEAPTYPE:
                tables.append((f"class {name}.{value.__qualname__}", value, value.__dict__, tuple(value.__dict__),
                               tuple(value.__dict__.values())))
                metas.append((value, type(value)))
    closures = _closures([*functions, *(v for _, _, live, _, _ in tables for v in list(live.values()))])
    cells = tuple(cell for _, held, _, _, _ in closures for cell in held)
    held = tuple(h for _, _, contents, _, _ in closures for h in contents)
    defaults = tuple((f, d, k) for f, _, _, d, k in closures)
    classes, metaclasses = tuple(c for c, _ in metas), tuple(m for _, m in metas)
    functions = tuple(f for f, _, _, _, _ in closures)  # read in C loops (~240 functions, twice a test)
    saved_defaults = tuple(d for _, _, _, d, _ in closures)
    saved_kwdefaults = tuple(k for _, _, _, _, k in closures)
    versions = _DictVersions([live for _, _, live, _, _ in tables])
    keysets = [frozenset(keys) for _, _, _, keys, _ in tables]
    is_, missing, get_module = _is, _MISSING, sys.modules.get
    set_type, del_type, set_class, type_of = type.__setattr__, type.__delattr__, object.__setattr__, type
    size_of, str_type, empty = len, str, _EMPTY_CELL
    # the checks that hold no reference to what they compare (see _native.same_values), bound
    # here; a class's table through the dict behind its mappingproxy
    values_are, types_are, cells_are, defaults_are = same_values, same_types, same_cells, same_defaults
    behind = versions.dicts

    def seal() -> list[str]:
        changed = []
        for index in versions.changed():
            label, cls, live, keys, values = tables[index]
            sized = size_of(live) - (cls is None and "__warningregistry__" in live)
            if sized == size_of(keys) and (values_are(behind[index], keys, values, missing) if behind is not None
                                           else all(map(is_, map(live.get, keys, repeat(missing)), values))):
                versions.seen(index)
                continue
            changed.append(label)
            for key, value in zip(keys, values):
                if live.get(key, missing) is not value:
                    if cls is not None:
                        set_type(cls, key, value)
                    else:
                        live.pop(key, None)  # a look-alike key object too
                        live[key] = value
            known = keysets[index]
            for key in [k for k in live if type_of(k) is not str_type or k not in known]:
                if key in MODULE_NOISE and cls is None:
                    continue
                if cls is not None:
                    del_type(cls, key)
                else:
                    del live[key]
            versions.seen(index)
        for name, module in modules:
            if get_module(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
        if not types_are(classes, metaclasses):
            for cls, meta in metas:
                if type_of(cls) is not meta:
                    set_class(cls, "__class__", meta)
                    changed.append(f"class {cls.__qualname__}'s metaclass")
        if not cells_are(cells, held, empty):
            for cell, value in zip(cells, held):
                try:
                    now = cell.cell_contents
                except ValueError:
                    now = empty
                if now is not value:
                    if value is empty:
                        del cell.cell_contents
                    else:
                        cell.cell_contents = value
                    changed.append("a closure of the grader's")
        if not defaults_are(functions, saved_defaults, saved_kwdefaults):
            for function, default, kwdefault in defaults:
                if function.__defaults__ is not default or function.__kwdefaults__ is not kwdefault:
                    function.__defaults__, function.__kwdefaults__ = default, kwdefault
                    changed.append(f"the defaults of {function.__qualname__}")
        return changed

    return seal


def mocked_names(source: str) -> frozenset:
    """Names a test cell's own code may replace in a module: attributes it assigns or deletes
    (``builtins.input = ...``) and the parts of the strings it holds (``mock.patch(
    'builtins.input')``, ``setattr(builtins, 'input', ...)``). Read only when such a module
    changed during a test."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(node.value.replace(".", " ").split())
    return frozenset(names)

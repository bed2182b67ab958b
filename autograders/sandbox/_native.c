/* The grading sandbox's few native calls, so that none of its processes loads ctypes.

   Once _ctypes is loaded, its classes are reachable from any code (object.__subclasses__)
   and a Union of an integer and a pointer reads and writes any address with no audit event
   (issue 15): a student's answer could rewrite the grader's objects or the numbers a test
   compares with. So the zygote, the forker and every grading child keep ctypes out, and
   call the kernel through this module, which offers only these calls: none takes an
   address, none hands one out. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif

/* Whether this process, or the process it was forked from, set its dumpable flag: the
   grading child sets it once, before any student code, so that neither the student's code
   nor a process it forks (whose memory is a copy of the child's, with the nonce of the cell
   in flight) can make that memory readable to the student's uid again. */
static int dumpable_set = 0;

static PyObject *die_with_parent(PyObject *self, PyObject *unused) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *parent_death_signal(PyObject *self, PyObject *unused) {
    int sig = 0;
    if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyLong_FromLong(sig);
}

static PyObject *no_new_privs(PyObject *self, PyObject *unused) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *set_dumpable(PyObject *self, PyObject *arg) {
    int flag = PyObject_IsTrue(arg);
    if (flag < 0)
        return NULL;
    if (dumpable_set) {
        PyErr_SetString(PyExc_PermissionError, "the dumpable flag is set once, before a notebook runs");
        return NULL;
    }
    if (prctl(PR_SET_DUMPABLE, flag, 0, 0, 0) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    dumpable_set = 1;
    Py_RETURN_NONE;
}

static PyObject *dumpable(PyObject *self, PyObject *unused) {
    int flag = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (flag < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyBool_FromLong(flag);
}

/* setfsuid/setfsgid: the watchdog reads a notebook's /proc files as its uid. They return
   the previous id and report no error, as the kernel does. */
static PyObject *set_fsuid(PyObject *self, PyObject *arg) {
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLong(setfsuid((uid_t)id));
}

static PyObject *set_fsgid(PyObject *self, PyObject *arg) {
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLong(setfsgid((gid_t)id));
}

/* read and write that keep the GIL: the grading child's loop reads commands and writes
   replies while no thread a student started may run (see child.py). Errors are OSError
   with errno (EINTR and EAGAIN included: the caller decides). */
static PyObject *held_read(PyObject *self, PyObject *args) {
    int fd;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "in:held_read", &fd, &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "negative size");
        return NULL;
    }
    PyObject *buffer = PyBytes_FromStringAndSize(NULL, size);
    if (buffer == NULL)
        return NULL;
    ssize_t n = read(fd, PyBytes_AS_STRING(buffer), (size_t)size);
    if (n < 0) {
        Py_DECREF(buffer);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (n != size && _PyBytes_Resize(&buffer, n) < 0)
        return NULL;
    return buffer;
}

static PyObject *held_write(PyObject *self, PyObject *args) {
    int fd;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "iy*:held_write", &fd, &data))
        return NULL;
    ssize_t n = write(fd, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    if (n < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyLong_FromSsize_t(n);
}

/* PEP 509's version tags of dicts (a process-wide counter stamped on a dict at each change):
   which of the grader's dicts may have changed since last seen, read in microseconds. */
static PyObject *dict_versions(PyObject *self, PyObject *arg) {
    if (!PyTuple_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "a tuple of dicts");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(arg);
    PyObject *tags = PyTuple_New(n);
    if (tags == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyTuple_GET_ITEM(arg, i);
        if (!PyDict_CheckExact(d)) {
            Py_DECREF(tags);
            PyErr_SetString(PyExc_TypeError, "a tuple of dicts");
            return NULL;
        }
_Pragma("GCC diagnostic push")
_Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
        PyObject *tag = PyLong_FromUnsignedLongLong(((PyDictObject *)d)->ma_version_tag);
_Pragma("GCC diagnostic pop")
        if (tag == NULL) {
            Py_DECREF(tags);
            return NULL;
        }
        PyTuple_SET_ITEM(tags, i, tag);
    }
    return tags;
}

/* Identity checks of the pristine state (see pristine.Pristine._untouched) that hold no
   reference to the objects they compare: Python's map(is_, map(d.get, keys), values)
   increments and decrements each object's reference count, a write to its page, and in a
   freshly forked grading child each such page is a copy-on-write page fault (the first
   check of a child: about 250 of them, a millisecond). Only the lists and the dict's table
   are read here. */
static PyObject *same_values(PyObject *self, PyObject *args) {
    PyObject *mapping, *keys, *values, *missing;
    if (!PyArg_ParseTuple(args, "O!O!OO:same_values", &PyDict_Type, &mapping, &PyTuple_Type, &keys,
                          &values, &missing))
        return NULL;
    if (!PyList_Check(values) && !PyTuple_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "values: a list or a tuple");
        return NULL;
    }
    /* keys: a tuple, which the caller's arguments hold (no key of it can go while a key's
       equality runs); values are only compared by address, their count read at each step */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *found = PyDict_GetItemWithError(mapping, PyTuple_GET_ITEM(keys, i));
        if (found == NULL) {
            if (PyErr_Occurred())
                return NULL;
            found = missing;
        }
        if (i >= PySequence_Fast_GET_SIZE(values) || found != PySequence_Fast_GET_ITEM(values, i))
            Py_RETURN_FALSE;
    }
    if (PyTuple_GET_SIZE(keys) != PySequence_Fast_GET_SIZE(values))
        Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

static PyObject *same_types(PyObject *self, PyObject *args) {
    PyObject *objects, *classes;
    if (!PyArg_ParseTuple(args, "O!O!:same_types", &PyTuple_Type, &objects, &PyTuple_Type, &classes))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(objects);
    if (PyTuple_GET_SIZE(classes) != n) {
        PyErr_SetString(PyExc_ValueError, "as many classes as objects");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if ((PyObject *)Py_TYPE(PyTuple_GET_ITEM(objects, i)) != PyTuple_GET_ITEM(classes, i))
            Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

/* Whether each object's own __dict__ is still its dict (`none`: it has none, or it is a class,
   whose __dict__ is a mappingproxy), read from the object's dict slot (a descriptor named
   __dict__ put in its class runs no code here). */
static PyObject *same_dicts(PyObject *self, PyObject *args) {
    PyObject *objects, *dicts, *none;
    if (!PyArg_ParseTuple(args, "O!O!O:same_dicts", &PyTuple_Type, &objects, &PyTuple_Type, &dicts, &none))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(objects);
    if (PyTuple_GET_SIZE(dicts) != n) {
        PyErr_SetString(PyExc_ValueError, "as many dicts as objects");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *object = PyTuple_GET_ITEM(objects, i);
        PyObject **slot = PyType_Check(object) ? NULL : _PyObject_GetDictPtr(object);
        PyObject *own = slot != NULL ? *slot : NULL;
        if (own == NULL || !PyDict_CheckExact(own))
            own = none;
        if (own != PyTuple_GET_ITEM(dicts, i))
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* Whether every key of the dict is a string in the set (False at any other key: the caller
   looks again in Python). A string's hash and equality run no code, and no key is held. */
static PyObject *keys_within(PyObject *self, PyObject *args) {
    PyObject *mapping, *known, *key, *value;
    if (!PyArg_ParseTuple(args, "O!O!:keys_within", &PyDict_Type, &mapping, &PyFrozenSet_Type, &known))
        return NULL;
    Py_ssize_t position = 0;
    while (PyDict_Next(mapping, &position, &key, &value)) {
        if (!PyUnicode_CheckExact(key))
            Py_RETURN_FALSE;
        int found = PySet_Contains(known, key);
        if (found < 0)
            return NULL;
        if (!found)
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* The grader's seal (pristine.grader_seal): each closure cell still holds its value (an
   emptied one: `empty`), each function still has its defaults and keyword defaults (None
   for none, as __defaults__ reads). */
static PyObject *same_cells(PyObject *self, PyObject *args) {
    PyObject *cells, *held, *empty;
    if (!PyArg_ParseTuple(args, "O!O!O:same_cells", &PyTuple_Type, &cells, &PyTuple_Type, &held, &empty))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(cells);
    if (PyTuple_GET_SIZE(held) != n) {
        PyErr_SetString(PyExc_ValueError, "as many values as cells");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *cell = PyTuple_GET_ITEM(cells, i);
        if (!PyCell_Check(cell)) {
            PyErr_SetString(PyExc_TypeError, "cells: a tuple of cells");
            return NULL;
        }
        PyObject *now = PyCell_GET(cell);
        if ((now == NULL ? empty : now) != PyTuple_GET_ITEM(held, i))
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

static PyObject *same_defaults(PyObject *self, PyObject *args) {
    PyObject *functions, *defaults, *kwdefaults;
    if (!PyArg_ParseTuple(args, "O!O!O!:same_defaults", &PyTuple_Type, &functions, &PyTuple_Type, &defaults,
                          &PyTuple_Type, &kwdefaults))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(functions);
    if (PyTuple_GET_SIZE(defaults) != n || PyTuple_GET_SIZE(kwdefaults) != n) {
        PyErr_SetString(PyExc_ValueError, "as many defaults as functions");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *function = PyTuple_GET_ITEM(functions, i);
        if (!PyFunction_Check(function)) {
            PyErr_SetString(PyExc_TypeError, "functions: a tuple of functions");
            return NULL;
        }
        PyObject *d = PyFunction_GET_DEFAULTS(function), *k = PyFunction_GET_KW_DEFAULTS(function);
        if ((d == NULL ? Py_None : d) != PyTuple_GET_ITEM(defaults, i)
                || (k == NULL ? Py_None : k) != PyTuple_GET_ITEM(kwdefaults, i))
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* Which of the dicts' version tags differ from `tags` (an array of unsigned 64-bit integers,
   one a dict, as dict_versions gave them): their positions, with no integer made for each. */
static PyObject *versions_changed(PyObject *self, PyObject *args) {
    PyObject *dicts;
    Py_buffer tags;
    if (!PyArg_ParseTuple(args, "O!y*:versions_changed", &PyTuple_Type, &dicts, &tags))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(dicts);
    PyObject *changed = NULL;
    if (tags.len != n * (Py_ssize_t)sizeof(unsigned long long)) {
        PyErr_SetString(PyExc_ValueError, "one unsigned 64-bit tag a dict");
        goto done;
    }
    changed = PyList_New(0);
    if (changed == NULL)
        goto done;
    const unsigned long long *known = (const unsigned long long *)tags.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyTuple_GET_ITEM(dicts, i);
        if (!PyDict_CheckExact(d)) {
            PyErr_SetString(PyExc_TypeError, "a tuple of dicts");
            Py_CLEAR(changed);
            goto done;
        }
_Pragma("GCC diagnostic push")
_Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
        unsigned long long tag = ((PyDictObject *)d)->ma_version_tag;
_Pragma("GCC diagnostic pop")
        if (tag != known[i]) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(changed, index) < 0) {
                Py_XDECREF(index);
                Py_CLEAR(changed);
                goto done;
            }
            Py_DECREF(index);
        }
    }
done:
    PyBuffer_Release(&tags);
    return changed;
}

/* What the warm process holds, in huge pages (2 MB), before it forks the forker
   (MADV_COLLAPSE, whatever the system's THP setting; where the kernel cannot, nothing
   changes): the heap and every private anonymous mapping's whole 2 MB blocks. A block that
   neither the forker nor a child writes to stays one page-table entry: a fork copies one
   entry for it instead of 512, and a child's exit clears one (a process that writes to one
   gets its mapping split and copies the 4 kB page it writes, as before). Reads
   /proc/self/maps: it takes no address. Once per process, and not in a process forked after
   the call (a notebook's child cannot make it run again). The bytes collapsed. */
#define HUGE_PAGE (2UL << 20)
static int collapsed = 0;

static PyObject *collapse_memory(PyObject *self, PyObject *unused) {
    if (collapsed) {
        PyErr_SetString(PyExc_PermissionError, "the warm process's memory is collapsed once, before it forks");
        return NULL;
    }
    collapsed = 1;
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    unsigned long long total = 0;
    char line[512];
    Py_BEGIN_ALLOW_THREADS
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long start, end, offset, inode;
        char perms[8], dev[16], path[256] = "";
        if (strchr(line, '\n') == NULL) { /* a longer line (a long path): skip its rest */
            int c;
            while ((c = fgetc(maps)) != EOF && c != '\n')
                ;
        }
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &start, &end, perms, &offset, dev, &inode, path) < 6)
            continue;
        if (strlen(perms) != 4 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' || inode != 0
                || (path[0] != '\0' && strcmp(path, "[heap]") != 0))
            continue; /* files, shared memory, the stack, vdso... stay as they are */
        for (unsigned long at = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); at + HUGE_PAGE <= end; at += HUGE_PAGE)
            if (madvise((void *)at, HUGE_PAGE, MADV_COLLAPSE) == 0)
                total += HUGE_PAGE;
    }
    Py_END_ALLOW_THREADS
    fclose(maps);
    return PyLong_FromUnsignedLongLong(total);
}

static PyMethodDef methods[] = {
    {"die_with_parent", die_with_parent, METH_NOARGS, "SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG)."},
    {"parent_death_signal", parent_death_signal, METH_NOARGS, "The parent-death signal (0: none)."},
    {"no_new_privs", no_new_privs, METH_NOARGS, "No privileges gained by exec from now on."},
    {"set_dumpable", set_dumpable, METH_O, "Whether this process's memory may be read by its uid; once, also for the processes it forks."},
    {"dumpable", dumpable, METH_NOARGS, "Whether this process is dumpable."},
    {"set_fsuid", set_fsuid, METH_O, "setfsuid(2): the previous filesystem uid."},
    {"set_fsgid", set_fsgid, METH_O, "setfsgid(2): the previous filesystem gid."},
    {"held_read", held_read, METH_VARARGS, "read(2) keeping the GIL: bytes (empty at the end)."},
    {"held_write", held_write, METH_VARARGS, "write(2) keeping the GIL: how many bytes were written."},
    {"dict_versions", dict_versions, METH_O, "The version tags of a tuple of dicts."},
    {"same_values", same_values, METH_VARARGS, "Whether mapping.get(key, missing) is each value, for tuples of keys and values (no reference held)."},
    {"same_types", same_types, METH_VARARGS, "Whether type(object) is each class, for tuples of objects and classes (no reference held)."},
    {"same_cells", same_cells, METH_VARARGS, "Whether each closure cell holds its value (empty: `empty`), for tuples (no reference held)."},
    {"same_defaults", same_defaults, METH_VARARGS, "Whether each function has its __defaults__ and __kwdefaults__, for tuples (no reference held)."},
    {"same_dicts", same_dicts, METH_VARARGS, "Whether each object's own __dict__ is each dict (none: `none`), for tuples (no reference held)."},
    {"keys_within", keys_within, METH_VARARGS, "Whether every key of the dict is a str in the frozenset (no reference held)."},
    {"versions_changed", versions_changed, METH_VARARGS, "The positions of the dicts whose version tag is not the one in the array of tags (unsigned 64-bit)."},
    {"collapse_memory", collapse_memory, METH_NOARGS, "This process's private anonymous memory in huge pages, once, last before forking: bytes collapsed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The grading sandbox's native calls (prctl, setfsuid, reads that keep the GIL, dict versions, huge pages): "
    "none takes or gives an address, so that no sandbox process needs ctypes.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }

/* numpy's arrays kept to memory they own, in the grading sandbox (issue 15).

   numpy makes an array over whatever address an object's __array_interface__ names (a
   pointer, or a buffer with an offset, shape and strides it does not check), with no audit
   event: with id() giving addresses, an answer cell could read and write any byte of the
   grading child, the test cells and the grader included. Python code cannot stand between
   numpy and that attribute (numpy reads it in C, from any object, however it was made), so
   this module does, in C, once in the zygote before any notebook runs:

   - numpy's own module reads attributes through its table of imported functions (the GOT);
     the entries of CPython's attribute lookups there are pointed at ours, which hand numpy,
     for __array_interface__, a copy made of checked values only: a buffer's bytes (held
     exported by a memoryview, so that they cannot move), or a pointer from ArrayWindow (the
     stand-in of numpy's as_strided helper) inside the array it keeps; never Python objects
     read from raw bytes. __array_struct__ (a capsule of C pointers) is not offered for
     anything but numpy's arrays, which numpy never asks.
   - ndarray(shape, dtype, buffer=...) of Python objects (raw bytes read as object
     pointers) is refused, as numpy's frombuffer refuses it.
   - ndarray.resize(refcheck=False) and ndarray.__setstate__ on an array with data (both free
     memory other arrays may still view) are refused.

   Nothing here takes or gives an address to Python. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#define JUMP_SLOT R_X86_64_JUMP_SLOT
#define GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define JUMP_SLOT R_AARCH64_JUMP_SLOT
#define GLOB_DAT R_AARCH64_GLOB_DAT
#endif

#define REFERENCE_FLAGS 0x05 /* NPY_ITEM_REFCOUNT | NPY_ITEM_IS_POINTER: Python objects, StringDType */

/* captured at install, from numpy itself: none of them can be changed by a notebook */
static PyTypeObject *ndarray_type;
static PyObject *dtype_type;          /* numpy.dtype */
static PyObject *dtype_flags;         /* numpy.dtype.__dict__['flags'] */
static PyObject *dtype_itemsize;      /* numpy.dtype.__dict__['itemsize'] */
static PyObject *dtype_str;           /* numpy.dtype.__dict__['str'] */
static PyObject *dtype_kind;          /* numpy.dtype.__dict__['kind'] */
static PyObject *array_interface;     /* numpy.ndarray.__dict__['__array_interface__']: an array's own */
static PyObject *array_itemsize;      /* numpy.ndarray.__dict__['itemsize'] */
static PyObject *array_dtype;         /* numpy.ndarray.__dict__['dtype'] */
static PyObject *array_size;          /* numpy.ndarray.__dict__['size'] */
static PyObject *refused_message;     /* the refusal, '{what}' in it */
static PyObject *original_resize, *original_setstate;
static newfunc original_new;
static int installed = 0;

static PyObject *(*real_getattr)(PyObject *, PyObject *);
static PyObject *(*real_getattr_string)(PyObject *, const char *);
static int (*real_lookup)(PyObject *, PyObject *, PyObject **);

static PyObject *refuse(const char *what) {
    PyObject *key = PyUnicode_FromString("{what}"), *name = PyUnicode_FromString(what);
    PyObject *text = key && name ? PyUnicode_Replace(refused_message, key, name, -1) : NULL;
    Py_XDECREF(key);
    Py_XDECREF(name);
    if (text != NULL) {
        PyErr_SetObject(PyExc_RuntimeError, text);
        Py_DECREF(text);
    }
    return NULL;
}

/* a getset of numpy's read on obj, as numpy's own type has it */
static PyObject *numpy_get(PyObject *getset, PyObject *obj) {
    return Py_TYPE(getset)->tp_descr_get(getset, obj, (PyObject *)Py_TYPE(obj));
}

static long long read_long(PyObject *getset, PyObject *obj) {
    PyObject *value = numpy_get(getset, obj);
    if (value == NULL)
        return -1;
    long long n = PyLong_AsLongLong(value);
    Py_DECREF(value);
    return n;
}

/* ---- ArrayWindow: numpy's as_strided helper (DummyArray), its array kept for good ---- */

typedef struct {
    PyObject_HEAD
    PyObject *interface;
    PyObject *base;
} ArrayWindow;

static PyObject *window_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *names[] = {"interface", "base", NULL};
    PyObject *interface, *base = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:ArrayWindow", names, &interface, &base))
        return NULL;
    ArrayWindow *self = PyObject_GC_New(ArrayWindow, type);
    if (self == NULL)
        return NULL;
    self->interface = Py_NewRef(interface);
    self->base = Py_NewRef(base);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int window_traverse(ArrayWindow *self, visitproc visit, void *arg) {
    Py_VISIT(self->interface);
    Py_VISIT(self->base);
    return 0;
}

static int window_clear(ArrayWindow *self) {
    Py_CLEAR(self->interface);
    Py_CLEAR(self->base);
    return 0;
}

static void window_dealloc(ArrayWindow *self) {
    PyObject_GC_UnTrack(self);
    window_clear(self);
    PyObject_GC_Del(self);
}

static PyMemberDef window_members[] = {
    {"__array_interface__", T_OBJECT, offsetof(ArrayWindow, interface), READONLY, NULL},
    {"base", T_OBJECT, offsetof(ArrayWindow, base), READONLY, NULL},
    {NULL},
};

static PyTypeObject ArrayWindowType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sabaq.autograders.sandbox._arrays.ArrayWindow",
    .tp_doc = "A view's interface over an array it keeps (numpy's as_strided): read-only, "
              "so that the array lives as long as the view.",
    .tp_basicsize = sizeof(ArrayWindow),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = window_new,
    .tp_traverse = (traverseproc)window_traverse,
    .tp_clear = (inquiry)window_clear,
    .tp_dealloc = (destructor)window_dealloc,
    .tp_members = window_members,
};

/* ---- the checked copy of an __array_interface__ ---- */

/* an int (or what numpy takes as one) as a C integer; user code may run (__index__), before
   anything is read that it could change */
static int as_ssize(PyObject *value, Py_ssize_t *out) {
    PyObject *index = PyNumber_Index(value);
    if (index == NULL)
        return -1;
    *out = PyLong_AsSsize_t(index);
    Py_DECREF(index);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* a tuple of ints, at most 64 */
static int as_dims(PyObject *value, Py_ssize_t *dims, Py_ssize_t *n) {
    if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) > 64) {
        PyErr_SetString(PyExc_TypeError, "__array_interface__ shape and strides must be tuples");
        return -1;
    }
    *n = PyTuple_GET_SIZE(value);
    for (Py_ssize_t i = 0; i < *n; i++)
        if (as_ssize(PyTuple_GET_ITEM(value, i), &dims[i]) < 0)
            return -1;
    return 0;
}

static PyObject *dims_tuple(const Py_ssize_t *dims, Py_ssize_t n) {
    PyObject *tuple = PyTuple_New(n);
    for (Py_ssize_t i = 0; tuple != NULL && i < n; i++) {
        PyObject *item = PyLong_FromSsize_t(dims[i]);
        if (item == NULL) {
            Py_CLEAR(tuple);
            break;
        }
        PyTuple_SET_ITEM(tuple, i, item);
    }
    return tuple;
}

/* The bytes an array of this shape, strides and item size reaches, relative to its first
   item: [*low, *high). Empty (0, 0) when it has no item. -1 on overflow. */
static int extent(const Py_ssize_t *shape, const Py_ssize_t *strides, Py_ssize_t n, Py_ssize_t itemsize,
                  long long *low, long long *high) {
    long long lo = 0, hi = itemsize;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (shape[i] < 0)
            return -1;
        if (shape[i] == 0) {
            *low = *high = 0;
            return 0;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long reach;
        if (__builtin_mul_overflow((long long)(shape[i] - 1), (long long)strides[i], &reach))
            return -1;
        if (reach < 0 ? __builtin_add_overflow(lo, reach, &lo) : __builtin_add_overflow(hi, reach, &hi))
            return -1;
    }
    *low = lo;
    *high = hi;
    return 0;
}

static void contiguous_strides(const Py_ssize_t *shape, Py_ssize_t n, Py_ssize_t itemsize, Py_ssize_t *strides) {
    Py_ssize_t step = itemsize;
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        strides[i] = step;
        step *= shape[i] > 0 ? shape[i] : 1;
    }
}

/* the item: its dtype, from the interface's typestr (and descr, for a void typestr) */
static PyObject *interface_dtype(PyObject *iface) {
    PyObject *typestr = PyDict_GetItemString(iface, "typestr");
    if (typestr == NULL || !(PyUnicode_Check(typestr) || PyBytes_Check(typestr))) {
        PyErr_SetString(PyExc_ValueError, "__array_interface__ typestr must be a string");
        return NULL;
    }
    Py_INCREF(typestr);
    PyObject *descr = PyDict_GetItemString(iface, "descr");
    Py_XINCREF(descr);
    PyObject *dtype = PyObject_CallOneArg(dtype_type, typestr);
    Py_DECREF(typestr);
    if (dtype != NULL && descr != NULL) {
        PyObject *kind = numpy_get(dtype_kind, dtype);
        if (kind != NULL && PyUnicode_CompareWithASCIIString(kind, "V") == 0) {
            /* numpy uses descr for a void typestr (ignoring a default one: the same item) */
            PyObject *described = PyObject_CallOneArg(dtype_type, descr);
            if (described == NULL)
                Py_CLEAR(dtype);
            else
                Py_SETREF(dtype, described);
        }
        Py_XDECREF(kind);
    }
    Py_XDECREF(descr);
    return dtype;
}

/* the bytes numpy would read, from the view's first item: within [0, length) */
static int within(long long start, const Py_ssize_t *shape, const Py_ssize_t *strides, Py_ssize_t n,
                  Py_ssize_t itemsize, long long low_bound, long long high_bound) {
    long long low, high;
    if (extent(shape, strides, n, itemsize, &low, &high) < 0)
        return 0;
    if (low == high)
        return 1;
    long long first, last;
    if (__builtin_add_overflow(start, low, &first) || __builtin_add_overflow(start, high, &last))
        return 0;
    return first >= low_bound && last <= high_bound;
}

/* An ArrayWindow's pointer: inside its array's own memory, a Python object only where the
   array has the same one. Sets *readonly from the array too. */
static int window_checked(ArrayWindow *window, PyObject *pointer, PyObject *dtype, Py_ssize_t itemsize,
                          const Py_ssize_t *shape, const Py_ssize_t *strides, Py_ssize_t n, int *readonly) {
    PyObject *base = window->base;
    if (!PyObject_TypeCheck(base, ndarray_type)) {
        refuse("an array interface's pointer without the array it points into");
        return -1;
    }
    Py_INCREF(base);
    int ok = 0;
    PyObject *own = numpy_get(array_interface, base);
    PyObject *base_dtype = numpy_get(array_dtype, base);
    long long base_itemsize = read_long(array_itemsize, base);
    if (own == NULL || base_dtype == NULL || PyErr_Occurred())
        goto done;
    PyObject *data = PyDict_GetItemString(own, "data"), *own_shape = PyDict_GetItemString(own, "shape");
    PyObject *own_strides = PyDict_GetItemString(own, "strides");
    Py_ssize_t bshape[64], bstrides[64], bn = 0, sn = 0;
    if (data == NULL || !PyTuple_Check(data) || own_shape == NULL || as_dims(own_shape, bshape, &bn) < 0)
        goto done;
    if (own_strides == NULL || own_strides == Py_None)
        contiguous_strides(bshape, bn, (Py_ssize_t)base_itemsize, bstrides);
    else if (as_dims(own_strides, bstrides, &sn) < 0 || sn != bn)
        goto done;
    long long base_data = (long long)(intptr_t)PyLong_AsVoidPtr(PyTuple_GET_ITEM(data, 0));
    long long address = (long long)(intptr_t)PyLong_AsVoidPtr(pointer);
    if (PyErr_Occurred())
        goto done;
    long long low, high;
    if (extent(bshape, bstrides, bn, (Py_ssize_t)base_itemsize, &low, &high) < 0)
        goto done;
    if (!within(address, shape, strides, n, itemsize, base_data + low, base_data + high)) {
        refuse("an array interface's pointer outside the array it points into");
        goto done;
    }
    long long dflags = read_long(dtype_flags, dtype);
    if (dflags & REFERENCE_FLAGS) {
        /* objects only where the array has the same objects: a contiguous one, at its items */
        int same = PyObject_RichCompareBool(dtype, base_dtype, Py_EQ);
        int aligned = (address - base_data) % itemsize == 0 && (own_strides == NULL || own_strides == Py_None);
        for (Py_ssize_t i = 0; i < n; i++)
            aligned = aligned && strides[i] % itemsize == 0;
        if (same != 1 || !aligned) {
            if (same >= 0)
                refuse("an array interface that reads Python objects from memory that holds none");
            goto done;
        }
    }
    *readonly = *readonly || PyObject_IsTrue(PyTuple_GET_ITEM(data, 1)) == 1;
    ok = 1;
done:
    Py_XDECREF(own);
    Py_XDECREF(base_dtype);
    Py_DECREF(base);
    if (!ok && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "invalid __array_interface__");
    return ok ? 0 : -1;
}

/* The interface numpy gets instead of obj's: made of checked values only. */
static PyObject *checked_interface(PyObject *obj, PyObject *iface) {
    iface = PyDict_Copy(iface); /* read once, here: numpy reads only the copy made below */
    if (iface == NULL)
        return NULL;
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(iface, &position, &key, &value))
        if (!PyUnicode_CheckExact(key)) { /* a key of its own would run its code as the dict is read */
            Py_DECREF(iface);
            return refuse("an array interface whose keys are not strings");
        }
    PyObject *clean = NULL, *dtype = NULL, *view = NULL;
    PyObject *shape_value = PyDict_GetItemString(iface, "shape");
    PyObject *strides_value = PyDict_GetItemString(iface, "strides");
    PyObject *data = PyDict_GetItemString(iface, "data");
    PyObject *offset_value = PyDict_GetItemString(iface, "offset");
    Py_ssize_t shape[64], strides[64], n = 0, sn = 0, offset = 0;
    dtype = interface_dtype(iface);
    if (dtype == NULL)
        goto done;
    long long itemsize = read_long(dtype_itemsize, dtype), flags = read_long(dtype_flags, dtype);
    if (PyErr_Occurred())
        goto done;
    clean = PyDict_New();
    PyObject *typestr = numpy_get(dtype_str, dtype), *kind = numpy_get(dtype_kind, dtype);
    PyObject *version = PyLong_FromLong(3);
    int stored = clean != NULL && typestr != NULL && kind != NULL && version != NULL
                 && PyDict_SetItemString(clean, "typestr", typestr) == 0
                 && (PyUnicode_CompareWithASCIIString(kind, "V") != 0 || PyDict_SetItemString(clean, "descr", dtype) == 0)
                 && PyDict_SetItemString(clean, "version", version) == 0;
    Py_XDECREF(typestr);
    Py_XDECREF(kind);
    Py_XDECREF(version);
    if (!stored)
        goto fail;
    if (shape_value == NULL) {
        if (data != NULL) {
            PyErr_SetString(PyExc_ValueError, "Missing __array_interface__ shape");
            goto fail;
        }
        goto done; /* a scalar: numpy makes its own memory for it */
    }
    if (as_dims(shape_value, shape, &n) < 0)
        goto fail;
    if (strides_value == NULL || strides_value == Py_None)
        contiguous_strides(shape, n, (Py_ssize_t)itemsize, strides);
    else if (as_dims(strides_value, strides, &sn) < 0 || sn != n) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "__array_interface__ strides do not match its shape");
        goto fail;
    }
    if (offset_value != NULL && as_ssize(offset_value, &offset) < 0)
        goto fail;
    PyObject *dims = dims_tuple(shape, n);
    if (dims == NULL || PyDict_SetItemString(clean, "shape", dims) < 0) {
        Py_XDECREF(dims);
        goto fail;
    }
    Py_DECREF(dims);
    if (data == NULL)
        goto done; /* numpy's own memory: no strides of the interface's */
    if (itemsize <= 0) {
        refuse("an array interface whose items have no size");
        goto fail;
    }
    PyObject *steps = dims_tuple(strides, n);
    if (steps == NULL || PyDict_SetItemString(clean, "strides", steps) < 0) {
        Py_XDECREF(steps);
        goto fail;
    }
    Py_DECREF(steps);
    if (PyTuple_Check(data)) {
        if (PyTuple_GET_SIZE(data) != 2 || !PyLong_Check(PyTuple_GET_ITEM(data, 0))) {
            PyErr_SetString(PyExc_TypeError, "__array_interface__ data must be a 2-tuple with "
                                             "(data pointer integer, read-only flag)");
            goto fail;
        }
        if (Py_TYPE(obj) != &ArrayWindowType) {
            refuse("an array interface's pointer to memory");
            goto fail;
        }
        int readonly = PyObject_IsTrue(PyTuple_GET_ITEM(data, 1));
        PyObject *pointer = PyNumber_Index(PyTuple_GET_ITEM(data, 0));
        if (readonly < 0 || pointer == NULL) {
            Py_XDECREF(pointer);
            goto fail;
        }
        int checked = window_checked((ArrayWindow *)obj, pointer, dtype, (Py_ssize_t)itemsize, shape, strides, n,
                                     &readonly);
        PyObject *pair = checked < 0 ? NULL : Py_BuildValue("(OO)", pointer, readonly ? Py_True : Py_False);
        Py_DECREF(pointer);
        if (pair == NULL || PyDict_SetItemString(clean, "data", pair) < 0) {
            Py_XDECREF(pair);
            goto fail;
        }
        Py_DECREF(pair);
        goto done;
    }
    /* a buffer: numpy's array keeps this memoryview, so the bytes stay exported (a bytearray
       cannot be resized, an mmap not closed, while the array lives) */
    if (flags & REFERENCE_FLAGS) {
        refuse("an array interface that reads Python objects from a buffer");
        goto fail;
    }
    view = PyMemoryView_FromObject(data == Py_None ? obj : data);
    if (view == NULL)
        goto fail;
    Py_buffer *buffer = PyMemoryView_GET_BUFFER(view);
    if (!PyBuffer_IsContiguous(buffer, 'C')) {
        PyErr_SetString(PyExc_ValueError, "__array_interface__ data must be a contiguous buffer");
        goto fail;
    }
    if (offset < 0 || !within(offset, shape, strides, n, (Py_ssize_t)itemsize, 0, buffer->len)) {
        refuse("an array interface that reaches past the end of its buffer");
        goto fail;
    }
    PyObject *start = PyLong_FromSsize_t(offset);
    if (start == NULL || PyDict_SetItemString(clean, "offset", start) < 0 || PyDict_SetItemString(clean, "data", view) < 0) {
        Py_XDECREF(start);
        goto fail;
    }
    Py_DECREF(start);
    goto done;
fail:
    Py_CLEAR(clean);
done:
    Py_XDECREF(view);
    Py_XDECREF(dtype);
    Py_DECREF(iface);
    return clean;
}

enum { ABSENT = 0, KEPT = 1 };

static int name_is(PyObject *name, const char *text) {
    return PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, text) == 0;
}

/* what numpy may see of obj's attribute: *value replaced (or cleared: absent); -1 refused */
static int screened(PyObject *obj, PyObject *name, PyObject **value) {
    if (Py_TYPE(obj) == ndarray_type)
        return KEPT; /* numpy's own array: its own getters */
    if (name_is(name, "__array_struct__")) {
        Py_CLEAR(*value); /* a capsule of raw pointers: numpy takes the other ways */
        return ABSENT;
    }
    if (!name_is(name, "__array_interface__") || !PyDict_Check(*value))
        return KEPT; /* not a dict: numpy refuses it itself */
    PyObject *clean = checked_interface(obj, *value);
    Py_SETREF(*value, clean);
    return clean == NULL ? -1 : KEPT;
}

static PyObject *guarded_getattr(PyObject *obj, PyObject *name) {
    PyObject *value = real_getattr(obj, name);
    if (value == NULL)
        return NULL;
    int kept = screened(obj, name, &value);
    if (kept == ABSENT)
        PyErr_SetObject(PyExc_AttributeError, name);
    return value;
}

static PyObject *guarded_getattr_string(PyObject *obj, const char *name) {
    if (strncmp(name, "__array_", 8) != 0)
        return real_getattr_string(obj, name);
    PyObject *key = PyUnicode_FromString(name);
    if (key == NULL)
        return NULL;
    PyObject *value = guarded_getattr(obj, key);
    Py_DECREF(key);
    return value;
}

static int guarded_lookup(PyObject *obj, PyObject *name, PyObject **result) {
    int found = real_lookup(obj, name, result);
    if (found <= 0)
        return found;
    int kept = screened(obj, name, result);
    return kept < 0 ? -1 : (*result == NULL ? 0 : 1);
}

/* ---- ndarray's constructor and the methods that free memory ---- */

static PyObject *guarded_new(PyTypeObject *subtype, PyObject *args, PyObject *kwds) {
    PyObject *buffer = kwds ? PyDict_GetItemString(kwds, "buffer") : NULL;
    if (buffer == NULL && PyTuple_GET_SIZE(args) > 2)
        buffer = PyTuple_GET_ITEM(args, 2);
    if (buffer == NULL || buffer == Py_None)
        return original_new(subtype, args, kwds);
    PyObject *given = kwds ? PyDict_GetItemString(kwds, "dtype") : NULL;
    int positional = given == NULL && PyTuple_GET_SIZE(args) > 1;
    if (positional)
        given = PyTuple_GET_ITEM(args, 1);
    PyObject *dtype = PyObject_CallOneArg(dtype_type, given ? given : Py_None);
    if (dtype == NULL)
        return NULL;
    long long flags = read_long(dtype_flags, dtype);
    if (flags < 0 || (flags & REFERENCE_FLAGS)) {
        Py_DECREF(dtype);
        return flags < 0 ? NULL : refuse("an array of Python objects over a buffer");
    }
    /* the dtype as checked, not what made it (its code could answer differently again) */
    Py_ssize_t count = PyTuple_GET_SIZE(args);
    PyObject *new_args = PyTuple_New(count);
    for (Py_ssize_t i = 0; new_args != NULL && i < count; i++)
        PyTuple_SET_ITEM(new_args, i, Py_NewRef(positional && i == 1 ? dtype : PyTuple_GET_ITEM(args, i)));
    PyObject *new_kwds = kwds ? PyDict_Copy(kwds) : PyDict_New();
    PyObject *result = NULL;
    if (new_args != NULL && new_kwds != NULL) {
        if (positional)
            result = original_new(subtype, new_args, new_kwds);
        else if (PyDict_SetItemString(new_kwds, "dtype", dtype) == 0)
            result = original_new(subtype, new_args, new_kwds);
    }
    Py_XDECREF(new_args);
    Py_XDECREF(new_kwds);
    Py_DECREF(dtype);
    return result;
}

/* the method numpy has, every argument borrowed: no reference more than a direct call
   (resize counts them) */
static PyObject *call_original(PyObject *method, PyObject *self, PyObject *args, PyObject *kwds) {
    Py_ssize_t n = PyTuple_GET_SIZE(args), k = kwds ? PyDict_GET_SIZE(kwds) : 0;
    if (n + k > 15) {
        PyErr_SetString(PyExc_TypeError, "too many arguments");
        return NULL;
    }
    PyObject *stack[16], *names = k ? PyTuple_New(k) : NULL, *key, *value;
    if (k && names == NULL)
        return NULL;
    stack[0] = self;
    for (Py_ssize_t i = 0; i < n; i++)
        stack[i + 1] = PyTuple_GET_ITEM(args, i);
    Py_ssize_t position = 0, i = 0;
    while (k && PyDict_Next(kwds, &position, &key, &value)) {
        PyTuple_SET_ITEM(names, i, Py_NewRef(key));
        stack[n + 1 + i++] = value;
    }
    PyObject *result = PyObject_Vectorcall(method, stack, (size_t)n + 1, names);
    Py_XDECREF(names);
    return result;
}

static PyObject *guarded_resize(PyObject *self, PyObject *args, PyObject *kwds) {
    PyObject *refcheck = kwds ? PyDict_GetItemString(kwds, "refcheck") : NULL;
    if (refcheck != NULL && PyObject_IsTrue(refcheck) != 1)
        return refuse("ndarray.resize(refcheck=False)");
    return call_original(original_resize, self, args, kwds);
}

static PyObject *guarded_setstate(PyObject *self, PyObject *args, PyObject *kwds) {
    long long size = read_long(array_size, self);
    if (size < 0)
        return NULL;
    if (size != 0) /* pickle restores into a new empty array; one with data may have views */
        return refuse("ndarray.__setstate__ on an array that has data");
    return call_original(original_setstate, self, args, kwds);
}

static PyMethodDef guarded_methods[] = {
    {"resize", (PyCFunction)(void (*)(void))guarded_resize, METH_VARARGS | METH_KEYWORDS,
     "numpy's resize, refcheck always on: memory other arrays view is not freed."},
    {"__setstate__", (PyCFunction)(void (*)(void))guarded_setstate, METH_VARARGS | METH_KEYWORDS,
     "numpy's __setstate__, into an empty array only (as pickle does)."},
};

/* ---- pointing numpy's imported functions at ours ---- */

struct patch {
    const char *library; /* part of the shared object's file name */
    const char *symbol;
    void *replacement;
    int count;
    int failed;
};

static uintptr_t relocated(uintptr_t value, uintptr_t base) {
    return value < base ? value + base : value; /* glibc relocates these entries; some loaders do not */
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *data) {
    struct patch *p = data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, p->library) == NULL)
        return 0;
    ElfW(Dyn) *dynamic = NULL;
    uintptr_t relro_start = 0, relro_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dynamic = (ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            relro_start = info->dlpi_addr + ph->p_vaddr;
            relro_end = relro_start + ph->p_memsz;
        }
    }
    if (dynamic == NULL)
        return 0;
    ElfW(Sym) *symbols = NULL;
    const char *strings = NULL;
    ElfW(Rela) *tables[2] = {NULL, NULL};
    size_t sizes[2] = {0, 0};
    for (ElfW(Dyn) *d = dynamic; d->d_tag != DT_NULL; d++) {
        uintptr_t at = relocated(d->d_un.d_ptr, info->dlpi_addr);
        switch (d->d_tag) {
        case DT_SYMTAB: symbols = (ElfW(Sym) *)at; break;
        case DT_STRTAB: strings = (const char *)at; break;
        case DT_JMPREL: tables[0] = (ElfW(Rela) *)at; break;
        case DT_PLTRELSZ: sizes[0] = d->d_un.d_val; break;
        case DT_RELA: tables[1] = (ElfW(Rela) *)at; break;
        case DT_RELASZ: sizes[1] = d->d_un.d_val; break;
        }
    }
    if (symbols == NULL || strings == NULL)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; tables[t] != NULL && i < sizes[t] / sizeof(ElfW(Rela)); i++) {
            ElfW(Rela) *r = &tables[t][i];
            unsigned long type = ELF64_R_TYPE(r->r_info);
            if ((type != JUMP_SLOT && type != GLOB_DAT) || ELF64_R_SYM(r->r_info) == 0)
                continue;
            if (strcmp(strings + symbols[ELF64_R_SYM(r->r_info)].st_name, p->symbol) != 0)
                continue;
            void **slot = (void **)(info->dlpi_addr + r->r_offset);
            void *start = (void *)((uintptr_t)slot & ~(uintptr_t)(page - 1));
            if (mprotect(start, page, PROT_READ | PROT_WRITE) != 0) {
                p->failed = 1;
                return 1;
            }
            *slot = p->replacement;
            if ((uintptr_t)slot >= relro_start && (uintptr_t)slot < relro_end)
                mprotect(start, page, PROT_READ);
            p->count++;
        }
    }
    return 0;
}

static int point_at(const char *library, const char *symbol, void *replacement, void **original) {
    *original = dlsym(RTLD_DEFAULT, symbol);
    if (*original == NULL) {
        PyErr_Format(PyExc_OSError, "%s is not in this Python", symbol);
        return -1;
    }
    struct patch p = {library, symbol, replacement, 0, 0};
    dl_iterate_phdr(patch_object, &p);
    if (p.failed) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return p.count;
}

static PyObject *getset_of(PyObject *type, const char *name) {
    PyObject *found = PyDict_GetItemString(((PyTypeObject *)type)->tp_dict, name);
    if (found == NULL || Py_TYPE(found)->tp_descr_get == NULL) {
        PyErr_Format(PyExc_RuntimeError, "numpy has no %s here", name);
        return NULL;
    }
    return Py_NewRef(found);
}

static void walk_subclasses(PyTypeObject *type) {
    PyObject *subclasses = PyObject_CallMethod((PyObject *)type, "__subclasses__", NULL);
    if (subclasses == NULL) {
        PyErr_Clear();
        return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subclasses); i++) {
        PyTypeObject *sub = (PyTypeObject *)PyList_GET_ITEM(subclasses, i);
        if (sub->tp_new == original_new)
            sub->tp_new = guarded_new;
        walk_subclasses(sub);
    }
    Py_DECREF(subclasses);
}

static int replace_method(PyMethodDef *def, PyObject **original) {
    PyObject *dict = ndarray_type->tp_dict;
    *original = Py_XNewRef(PyDict_GetItemString(dict, def->ml_name));
    PyObject *method = PyDescr_NewMethod(ndarray_type, def);
    if (*original == NULL || method == NULL || PyDict_SetItemString(dict, def->ml_name, method) < 0) {
        Py_XDECREF(method);
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_RuntimeError, "numpy's ndarray has no %s", def->ml_name);
        return -1;
    }
    Py_DECREF(method);
    return 0;
}

static PyObject *install(PyObject *self, PyObject *args) {
    PyObject *ndarray, *dtype, *message;
    const char *library;
    if (!PyArg_ParseTuple(args, "OOUs:install", &ndarray, &dtype, &message, &library))
        return NULL;
    if (installed)
        Py_RETURN_FALSE;
#if !defined(JUMP_SLOT)
    PyErr_SetString(PyExc_OSError, "numpy's array interface is guarded on x86-64 and aarch64 only");
    return NULL;
#else
    if (!PyType_Check(ndarray) || !PyType_Check(dtype)) {
        PyErr_SetString(PyExc_TypeError, "numpy.ndarray and numpy.dtype");
        return NULL;
    }
    ndarray_type = (PyTypeObject *)Py_NewRef(ndarray);
    dtype_type = Py_NewRef(dtype);
    refused_message = Py_NewRef(message);
    if (!(dtype_flags = getset_of(dtype, "flags")) || !(dtype_itemsize = getset_of(dtype, "itemsize"))
        || !(dtype_str = getset_of(dtype, "str")) || !(dtype_kind = getset_of(dtype, "kind"))
        || !(array_interface = getset_of(ndarray, "__array_interface__"))
        || !(array_itemsize = getset_of(ndarray, "itemsize")) || !(array_dtype = getset_of(ndarray, "dtype"))
        || !(array_size = getset_of(ndarray, "size")))
        return NULL;
    int lookups = point_at(library, "_PyObject_LookupAttr", (void *)guarded_lookup, (void **)&real_lookup);
    int getattrs = lookups < 0 ? -1 : point_at(library, "PyObject_GetAttr", (void *)guarded_getattr, (void **)&real_getattr);
    int strings = getattrs < 0 ? -1 : point_at(library, "PyObject_GetAttrString", (void *)guarded_getattr_string,
                                                (void **)&real_getattr_string);
    if (strings < 0)
        return NULL;
    if (lookups + getattrs == 0) {
        PyErr_Format(PyExc_RuntimeError, "%s looks up no attribute through its imported functions: "
                     "its array interface cannot be guarded", library);
        return NULL;
    }
    if (replace_method(&guarded_methods[0], &original_resize) < 0
        || replace_method(&guarded_methods[1], &original_setstate) < 0)
        return NULL;
    original_new = ndarray_type->tp_new;
    ndarray_type->tp_new = guarded_new;
    walk_subclasses(ndarray_type);
    PyType_Modified(ndarray_type);
    installed = 1;
    return Py_BuildValue("{s:i,s:i,s:i}", "_PyObject_LookupAttr", lookups, "PyObject_GetAttr", getattrs,
                         "PyObject_GetAttrString", strings);
#endif
}

static PyObject *is_installed(PyObject *self, PyObject *unused) {
    return PyBool_FromLong(installed);
}

static PyMethodDef methods[] = {
    {"install", install, METH_VARARGS,
     "install(ndarray, dtype, message, library): guard numpy's array interface in the shared object "
     "whose file name contains library; message: the refusal, with '{what}'. Once per process "
     "(False when done before); a dict of how many imported functions were pointed at ours."},
    {"installed", is_installed, METH_NOARGS, "Whether the guard is installed in this process."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_arrays",
    "numpy's arrays kept to memory they own in the grading sandbox: the array interface checked, "
    "ArrayWindow for as_strided.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__arrays(void) {
    if (PyType_Ready(&ArrayWindowType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "ArrayWindow", (PyObject *)&ArrayWindowType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* PostgreSQL's hash_bytes (src/common/hashfn.c, little-endian path), for speed.
 * semantik_chunks.domain.hashing.hash_bytes_py is the reference; tests hold the two equal. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define rot(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
#define mix(a, b, c) \
    { \
        a -= c; a ^= rot(c, 4); c += b; \
        b -= a; b ^= rot(a, 6); a += c; \
        c -= b; c ^= rot(b, 8); b += a; \
        a -= c; a ^= rot(c, 16); c += b; \
        b -= a; b ^= rot(a, 19); a += c; \
        c -= b; c ^= rot(b, 4); b += a; \
    }
#define final(a, b, c) \
    { \
        c ^= b; c -= rot(b, 14); \
        a ^= c; a -= rot(c, 11); \
        b ^= a; b -= rot(a, 25); \
        c ^= b; c -= rot(b, 16); \
        a ^= c; a -= rot(c, 4); \
        b ^= a; b -= rot(a, 14); \
        c ^= b; c -= rot(b, 24); \
    }

static uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t pg_hash_bytes(const unsigned char *k, Py_ssize_t keylen) {
    uint32_t a, b, c;
    Py_ssize_t len = keylen;
    a = b = c = 0x9e3779b9 + (uint32_t)keylen + 3923095;
    while (len >= 12) {
        a += load_le32(k);
        b += load_le32(k + 4);
        c += load_le32(k + 8);
        mix(a, b, c);
        k += 12;
        len -= 12;
    }
    switch (len) {
    case 11: c += ((uint32_t)k[10] << 24); /* fall through */
    case 10: c += ((uint32_t)k[9] << 16);  /* fall through */
    case 9: c += ((uint32_t)k[8] << 8);    /* fall through */
    case 8: b += load_le32(k + 4); a += load_le32(k); break;
    case 7: b += ((uint32_t)k[6] << 16);   /* fall through */
    case 6: b += ((uint32_t)k[5] << 8);    /* fall through */
    case 5: b += k[4];                     /* fall through */
    case 4: a += load_le32(k); break;
    case 3: a += ((uint32_t)k[2] << 16);   /* fall through */
    case 2: a += ((uint32_t)k[1] << 8);    /* fall through */
    case 1: a += k[0];
    }
    final(a, b, c);
    return c;
}

static PyObject *hash_bytes(PyObject *self, PyObject *arg) {
    Py_buffer view;
    uint32_t h;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    h = pg_hash_bytes((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(h);
}

static PyMethodDef methods[] = {
    {"hash_bytes", hash_bytes, METH_O, "Unsigned 32-bit PostgreSQL hash_bytes of a bytes-like object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hashtext", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hashtext(void) { return PyModule_Create(&module); }

/* tests/fuzz/h5build.h - the HDF5 harnesses build their files with HDF5
 * itself from the fuzzer's bytes (datasets and attributes of any type, rank,
 * shape and values, deleted, replaced, linked), so they test what the
 * trainer checks in well-formed files: HDF5 is not meant to parse hostile
 * bytes (its SECURITY.md), and the raw-bytes mode (TR_FUZZ_RAW=1) that
 * hands it the fuzzer's bytes as the file finds HDF5's own bugs, reported in
 * tests/fuzz/README.md rather than failing CI. */
#ifndef TR_FUZZ_H5BUILD_H
#define TR_FUZZ_H5BUILD_H

#include <hdf5.h>
#include "fuzz.h"

/* The input, read a byte at a time (0 once it runs out). */
typedef struct fz_in {
    const uint8_t *d;
    size_t n, at;
} fz_in;

static inline unsigned fz_byte(fz_in *in)
{
    return in->at < in->n ? in->d[in->at++] : 0;
}

enum { FZ_TYPES = 12, FZ_MAX_POINTS = 256 };

/* Type k: the integer and float kinds, a variable-length and a fixed-length
 * string. Strings are returned as new types (close them); the rest are
 * HDF5's own. */
static inline hid_t fz_type(unsigned k, int *is_string)
{
    static const hid_t *const num[] = {&H5T_NATIVE_INT8_g, &H5T_NATIVE_UINT8_g, &H5T_NATIVE_INT16_g,
                                       &H5T_NATIVE_UINT16_g, &H5T_NATIVE_INT32_g, &H5T_NATIVE_UINT32_g,
                                       &H5T_NATIVE_INT64_g, &H5T_NATIVE_UINT64_g, &H5T_NATIVE_FLOAT_g,
                                       &H5T_NATIVE_DOUBLE_g};
    H5open(); /* the native types exist once the library is open */
    k %= FZ_TYPES;
    *is_string = k >= 10;
    if (k < 10)
        return *num[k];
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, k == 10 ? H5T_VARIABLE : 4);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* A string from the input: one of the vocabulary's usual tokens, or up to 7
 * raw bytes (any bytes but NUL). */
static inline void fz_string(fz_in *in, char *buf /* [8] */)
{
    static const char *const tok[] = {"<pad>", "<unk>", "<s>", "</s>", "a", "b", "", "pos", "neg", "\xff\xfe"};
    unsigned b = fz_byte(in);
    if (b < 200) {
        strcpy(buf, tok[b % 10]);
        return;
    }
    int len = (int)(b % 8);
    for (int i = 0; i < len; i++)
        buf[i] = (char)(fz_byte(in) | 1);
    buf[len] = 0;
}

/* Fills n values of type t (string or not) from the input: small numbers
 * (-1..6, what ids and labels are) unless raw, then any bit pattern. */
static inline void *fz_values(fz_in *in, hid_t t, int is_string, hsize_t n, int raw, char (*strs)[8], const char **ptrs)
{
    if (is_string) {
        const int fixed = !H5Tis_variable_str(t);
        char *fixed_buf = fixed ? calloc(n, 4) : NULL;
        for (hsize_t i = 0; i < n; i++) {
            fz_string(in, strs[i]);
            ptrs[i] = strs[i];
            if (fixed)
                memcpy(fixed_buf + 4 * i, strs[i], strlen(strs[i]) < 4 ? strlen(strs[i]) : 4);
        }
        return fixed ? (void *)fixed_buf : (void *)ptrs;
    }
    const size_t size = H5Tget_size(t);
    uint8_t *v = calloc(n ? n : 1, size);
    const int is_float = H5Tget_class(t) == H5T_FLOAT;
    for (hsize_t i = 0; i < n; i++) {
        if (raw) {
            for (size_t b = 0; b < size; b++)
                v[i * size + b] = (uint8_t)fz_byte(in);
        } else {
            const int x = (int)(fz_byte(in) % 8) - 1;
            if (is_float && size == 4)
                ((float *)v)[i] = (float)x;
            else if (is_float)
                ((double *)v)[i] = x;
            else if (size == 1)
                v[i] = (uint8_t)x;
            else if (size == 2)
                ((int16_t *)v)[i] = (int16_t)x;
            else if (size == 4)
                ((int32_t *)v)[i] = x;
            else
                ((int64_t *)v)[i] = x;
        }
    }
    return v;
}

/* A dataspace of rank 0..max_rank, or now and then of HDF5's largest rank
 * (dims 0..5 each, at most FZ_MAX_POINTS points). */
static inline hid_t fz_space(fz_in *in, int max_rank, hsize_t *points)
{
    hsize_t dims[H5S_MAX_RANK];
    const unsigned r = fz_byte(in);
    int rank = r == 255 ? H5S_MAX_RANK : (int)(r % (unsigned)(max_rank + 1));
    *points = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = rank > 4 ? 1 : fz_byte(in) % 6;
        *points *= dims[i];
    }
    if (*points > FZ_MAX_POINTS) {
        rank = 1;
        dims[0] = *points = FZ_MAX_POINTS;
    }
    return rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
}

/* Writes a dataset (attr == NULL) or an attribute of object `path` from
 * the input: its type, shape and values. Whatever was there goes first. */
static inline void fz_put(hid_t f, const char *path, const char *attr, fz_in *in)
{
    const unsigned kind = fz_byte(in);
    int is_string = 0;
    hid_t t = fz_type(kind, &is_string);
    hsize_t n = 0;
    hid_t sp = fz_space(in, attr ? 1 : 4, &n);
    char (*strs)[8] = malloc((n ? n : 1) * sizeof *strs);
    const char **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
    void *v = fz_values(in, t, is_string, n, kind & 0x80, strs, ptrs);
    if (attr) {
        hid_t o = H5Oopen(f, path, H5P_DEFAULT);
        if (o >= 0) {
            H5Adelete(o, attr);
            hid_t a = H5Acreate2(o, attr, t, sp, H5P_DEFAULT, H5P_DEFAULT);
            if (a >= 0) {
                H5Awrite(a, t, v);
                H5Aclose(a);
            }
            H5Oclose(o);
        }
    } else {
        H5Ldelete(f, path, H5P_DEFAULT);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t d = H5Dcreate2(f, path, t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) {
            H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            H5Dclose(d);
        }
        H5Pclose(lcpl);
    }
    if (v != (void *)ptrs)
        free(v);
    free(strs);
    free(ptrs);
    H5Sclose(sp);
    if (is_string)
        H5Tclose(t);
}

/* A group, or a soft link (maybe dangling), in place of `path`. */
static inline void fz_put_group(hid_t f, const char *path)
{
    H5Ldelete(f, path, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(f, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0)
        H5Gclose(g);
    H5Pclose(lcpl);
}

static inline void fz_put_link(hid_t f, const char *path, const char *target)
{
    H5Ldelete(f, path, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Lcreate_soft(target, f, path, lcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
}

/* A valid integer dataset or string list (the templates inputs start from). */
static inline void fz_put_ints(hid_t f, const char *path, hid_t type, int rank, const hsize_t *dims, const void *v)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, path, type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

static inline void fz_put_strings(hid_t f, const char *path, int n, const char *const *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(f, path, t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
    H5Tclose(t);
}

/* TR_FUZZ_RAW=1: the input is the file itself. */
static inline int fz_raw(void)
{
    static int raw = -1;
    if (raw < 0)
        raw = getenv("TR_FUZZ_RAW") && strcmp(getenv("TR_FUZZ_RAW"), "0") != 0;
    return raw;
}

#endif

/* tests/ckpt_diff.c - compare the /params of two checkpoints:
 *   ckpt_diff A.h5 B.h5 [MAX_REL_L2]
 * prints the largest absolute difference and ||A - B|| / ||A|| over all
 * parameters; exits 1 if a tensor is missing or of another size, or if the
 * relative L2 difference exceeds MAX_REL_L2 (when given). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
    hid_t b;
    double diff2, norm2, maxabs;
    long values;
    int bad;
} acc;

static float *read_all(hid_t file, const char *name, hssize_t *n)
{
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0)
        return NULL;
    hid_t sp = H5Dget_space(ds);
    *n = H5Sget_simple_extent_npoints(sp);
    float *v = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *v);
    if (v && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        v = NULL;
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return v;
}

static herr_t visit(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    acc *a = data;
    char path[512];
    snprintf(path, sizeof path, "/params/%s", name);
    hssize_t na = 0, nb = 0;
    float *x = read_all(group, name, &na), *y = read_all(a->b, path, &nb);
    if (!x || !y || na != nb) {
        printf("%s: missing or of another size\n", path);
        a->bad = 1;
    } else {
        for (hssize_t i = 0; i < na; i++) {
            double d = (double)x[i] - y[i];
            a->diff2 += d * d;
            a->norm2 += (double)x[i] * x[i];
            if (fabs(d) > a->maxabs) a->maxabs = fabs(d);
        }
        a->values += (long)na;
    }
    free(x);
    free(y);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ckpt_diff A.h5 B.h5 [MAX_REL_L2]\n");
        return 2;
    }
    hid_t fa = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fa < 0 || fb < 0) {
        fprintf(stderr, "ckpt_diff: cannot open the checkpoints\n");
        return 2;
    }
    acc a = {.b = fb};
    hid_t g = H5Gopen2(fa, "params", H5P_DEFAULT);
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, visit, &a);
    H5Gclose(g);
    H5Fclose(fa);
    H5Fclose(fb);
    double rel = a.norm2 > 0 ? sqrt(a.diff2 / a.norm2) : sqrt(a.diff2);
    printf("%ld values: max |A-B| %.3g, ||A-B||/||A|| %.3g\n", a.values, a.maxabs, rel);
    if (a.bad || a.values == 0)
        return 1;
    return argc > 3 && rel > atof(argv[3]) ? 1 : 0;
}

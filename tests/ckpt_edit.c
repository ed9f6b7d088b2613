/* tests/ckpt_edit.c - make a "checkpoint from another plugin" for the tests:
 *   ckpt_edit FILE.h5 PLUGIN   rewrites the root attribute `plugin`. */
#include <hdf5.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ckpt_edit FILE.h5 PLUGIN\n");
        return 2;
    }
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 1;
    H5Adelete(f, "plugin");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "plugin", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = argv[2];
    int bad = a < 0 || H5Awrite(a, t, &v) < 0;
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return H5Fclose(f) < 0 || bad;
}

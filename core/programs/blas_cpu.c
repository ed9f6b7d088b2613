/* core/programs/blas_cpu.c - make OpenBLAS use the kernels this CPU can run.
 *
 * OpenBLAS (0.3.21, DYNAMIC_ARCH) falls back to its generic "Prescott" SSE3
 * kernels on CPUs it does not recognise; virtual machines that report a
 * generic model name (e.g. Sapphire Rapids as "Intel Xeon Processor") hit
 * this and run GEMMs several times slower. The kernel set is chosen when the
 * library is loaded, before main(), so the only fix is to set
 * OPENBLAS_CORETYPE and re-execute once. A user's own OPENBLAS_CORETYPE is
 * always respected. */
#define _GNU_SOURCE
#include "programs/blas_cpu.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char *openblas_get_corename(void);

void tr_blas_fix_coretype(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("TR_BLAS_REEXEC"))
        return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0)
        return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want)
        return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("TR_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slow kernels */
    unsetenv("OPENBLAS_CORETYPE");
}

/* bench/sgemm_peak.c - best single-precision GEMM throughput of OpenBLAS on
 * this machine: the ceiling the trainer's and PyTorch's GEMM-bound layers can
 * reach with the same library and thread count.
 *
 *   cc -O2 bench/sgemm_peak.c -lopenblas -lm -o /tmp/sgemm_peak
 *   OPENBLAS_NUM_THREADS=1 /tmp/sgemm_peak            # sizes 512 1024 2048
 *   OPENBLAS_NUM_THREADS=2 /tmp/sgemm_peak 256 4096   # other square sizes
 *
 * For each size n: C = A.B (row-major, no transposes, alpha 1, beta 0) on
 * n x n float matrices filled with uniform values in [-1, 1), one untimed
 * call, then timed calls until SGEMM_SECONDS (default 0.5 s) have passed
 * and at least 3 calls were made; the best call counts (2 n^3 flops).
 * Threads: whatever OpenBLAS uses (OPENBLAS_NUM_THREADS, else its default).
 *
 * Output, one line per size, then the best over the sizes:
 *   sgemm n=<n> threads=<t> calls=<k> best_ms=<ms> gflops=<g>
 *   sgemm_peak threads=<t> gflops=<g> n=<n> core=<OpenBLAS core>
 *
 * OpenBLAS 0.3.21 does not recognise some virtual CPUs (e.g. Sapphire Rapids
 * reporting a generic model name) and falls back to its Prescott (SSE3)
 * kernels, several times slower. As the trainer does (core/programs/blas_cpu.c), when
 * OPENBLAS_CORETYPE is unset and OpenBLAS picked Prescott, the program sets
 * OPENBLAS_CORETYPE=SkylakeX (avx512f/bw/vl) or Haswell (avx2+fma) and
 * re-executes itself once; the kernel set is chosen when the library loads,
 * so it cannot be changed in-process. A user's OPENBLAS_CORETYPE is kept. */
#define _GNU_SOURCE
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fix_coretype(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("SGEMM_PEAK_REEXEC"))
        return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0)
        return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want)
        return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("SGEMM_PEAK_REEXEC", "1", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    perror("sgemm_peak: re-exec with OPENBLAS_CORETYPE failed; "
           "keeping OpenBLAS's own kernels");
    unsetenv("OPENBLAS_CORETYPE");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_mat(size_t n, unsigned *seed)
{
    float *m = aligned_alloc(64, (n * n * sizeof(float) + 63) / 64 * 64);
    if (!m) {
        fprintf(stderr, "sgemm_peak: out of memory for n=%zu\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n * n; i++) {
        *seed = *seed * 1664525u + 1013904223u; /* LCG, top 24 bits */
        m[i] = (float)(*seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
    return m;
}

int main(int argc, char **argv)
{
    fix_coretype(argv);

    int sizes[64], ns = 0;
    for (int i = 1; i < argc && ns < 64; i++) {
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (*end || v < 1 || v > 65536) {
            fprintf(stderr, "usage: %s [n ...]   (square sizes, default 512 1024 2048)\n",
                    argv[0]);
            return 2;
        }
        sizes[ns++] = (int)v;
    }
    if (ns == 0) {
        sizes[ns++] = 512;
        sizes[ns++] = 1024;
        sizes[ns++] = 2048;
    }
    double budget = 0.5;
    const char *bs = getenv("SGEMM_SECONDS");
    if (bs && atof(bs) > 0)
        budget = atof(bs);

    int threads = openblas_get_num_threads();
    const char *core = openblas_get_corename();
    double best_g = 0.0;
    int best_n = 0;
    unsigned seed = 12345u;
    for (int s = 0; s < ns; s++) {
        int n = sizes[s];
        float *a = alloc_mat((size_t)n, &seed);
        float *b = alloc_mat((size_t)n, &seed);
        float *c = alloc_mat((size_t)n, &seed);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                    0.0f, c, n); /* untimed: thread start, page faults */
        double best = 1e30, start = now();
        int calls = 0;
        while (calls < 3 || now() - start < budget) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
            double dt = now() - t0;
            if (dt < best)
                best = dt;
            calls++;
        }
        double g = 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
        /* read the result so the calls cannot be dropped */
        volatile float sink = c[(size_t)n * n / 2];
        (void)sink;
        printf("sgemm n=%d threads=%d calls=%d best_ms=%.3f gflops=%.1f\n", n, threads, calls,
               best * 1e3, g);
        fflush(stdout);
        if (g > best_g) {
            best_g = g;
            best_n = n;
        }
        free(a);
        free(b);
        free(c);
    }
    printf("sgemm_peak threads=%d gflops=%.1f n=%d core=%s\n", threads, best_g, best_n,
           core ? core : "?");
    return 0;
}

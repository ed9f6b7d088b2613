/* core/programs/blas_cpu.h - see blas_cpu.c. */
#ifndef TR_BLAS_CPU_H
#define TR_BLAS_CPU_H

/* If OpenBLAS chose its generic kernels on a CPU with AVX2/AVX-512, sets
 * OPENBLAS_CORETYPE and re-executes the program (argv as given to main);
 * returns only when nothing needed doing or exec failed. */
void tr_blas_fix_coretype(char **argv);

#endif

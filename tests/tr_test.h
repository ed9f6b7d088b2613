/* tests/tr_test.h - the few lines every CUnit suite shares. */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <CUnit/CUnit.h>

typedef struct tr_test_case {
    const char *name;
    void (*fn)(void);
} tr_test_case;

/* Runs the cases (NULL-name terminated) as one suite; returns the process
 * exit status: 0 only if every assertion passed (CU_basic_run_tests itself
 * returns 0 even when tests fail). */
int tr_test_run(const char *suite, const tr_test_case *cases);

/* Central finite-difference gradient check helper: max relative error
 * |a-n| / max(1e-3, |a|+|n|) over n entries. */
double tr_test_max_rel_err(const double *analytic, const double *numeric, int n);

#endif

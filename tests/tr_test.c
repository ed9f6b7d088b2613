#include "tr_test.h"

#include <CUnit/Basic.h>
#include <math.h>

int tr_test_run(const char *suite, const tr_test_case *cases)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s)
        return 1;
    for (const tr_test_case *c = cases; c->name; c++)
        if (!CU_add_test(s, c->name, c->fn))
            return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

double tr_test_max_rel_err(const double *analytic, const double *numeric, int n)
{
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double den = fabs(analytic[i]) + fabs(numeric[i]);
        if (den < 1e-3)
            den = 1e-3;
        double e = fabs(analytic[i] - numeric[i]) / den;
        if (e > worst)
            worst = e;
    }
    return worst;
}

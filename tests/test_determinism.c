/* tests/test_determinism.c - the same config and seed give bitwise-identical
 * parameters on re-run and for 1 and 2 OpenMP threads; checkpoints round-trip
 * exactly and refuse a model of another shape. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "runtime/checkpoint.h"
#include "tr_test.h"
#include "tr_test_config.h"

enum { STEPS = 12 };

/* Trains STEPS steps of the time model with `threads` threads; returns a copy
 * of the parameters (and their count in *n). */
static float *train_params(int threads, size_t *n, float **init)
{
    omp_set_num_threads(threads);
    tr_config *cfg = NULL;
    tr_error err = {0};
    char *extra[] = {"train.log_every=1000"};
    if (tr_test_load_config(&cfg, "time", 1, extra, &err)) {
        printf("\n  %s\n", err.msg);
        return NULL;
    }
    tr_session *s = NULL;
    if (tr_session_open(&s, cfg, 1, &err)) {
        printf("\n  %s\n", err.msg);
        return NULL;
    }
    CU_ASSERT_EQUAL(s->threads, threads);
    *n = s->reg.total;
    if (init) {
        *init = malloc(*n * sizeof(float));
        memcpy(*init, s->params, *n * sizeof(float));
    }
    CU_ASSERT_EQUAL(tr_session_train(s, STEPS, NULL, &err), TR_OK);
    CU_ASSERT_EQUAL(s->step, STEPS);
    float *p = malloc(*n * sizeof(float));
    memcpy(p, s->params, *n * sizeof(float));
    tr_session_close(s);
    return p;
}

static void same_bits_for_1_and_2_threads_and_rerun(void)
{
    size_t n1 = 0, n2 = 0, n3 = 0;
    float *init = NULL;
    float *a = train_params(1, &n1, &init);
    float *b = train_params(2, &n2, NULL);
    float *c = train_params(1, &n3, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(n1, n2);
    CU_ASSERT_EQUAL_FATAL(n1, n3);
    /* training moved the parameters (so equality below means something) */
    size_t moved = 0;
    for (size_t i = 0; i < n1; i++)
        moved += a[i] != init[i];
    printf("\n  %zu of %zu parameters changed in %d steps\n", moved, n1, STEPS);
    CU_ASSERT(moved > n1 / 2);
    CU_ASSERT_EQUAL(memcmp(a, b, n1 * sizeof(float)), 0); /* 1 vs 2 threads */
    CU_ASSERT_EQUAL(memcmp(a, c, n1 * sizeof(float)), 0); /* re-run */
    free(a); free(b); free(c); free(init);
}

static void checkpoint_round_trip_and_shape_check(void)
{
    omp_set_num_threads(1);
    tr_config *cfg = NULL;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_test_load_config(&cfg, "time", 0, NULL, &err), TR_OK);
    tr_session *s = NULL;
    CU_ASSERT_EQUAL_FATAL(tr_session_open(&s, cfg, 1, &err), TR_OK);
    CU_ASSERT_EQUAL(tr_session_train(s, 3, NULL, &err), TR_OK);
    const char *path = "/tmp/trainer-test-ckpt/checkpoint.h5";
    CU_ASSERT_EQUAL_FATAL(tr_checkpoint_save(s, path, &err), TR_OK);

    tr_config *cfg2 = NULL;
    CU_ASSERT_EQUAL_FATAL(tr_test_load_config(&cfg2, "time", 0, NULL, &err), TR_OK);
    tr_session *t = NULL;
    CU_ASSERT_EQUAL_FATAL(tr_session_open(&t, cfg2, 0, &err), TR_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(s->params, t->params, s->reg.total * sizeof(float)), 0);
    CU_ASSERT_EQUAL(tr_checkpoint_load(t, path, 0, &err), TR_OK);
    CU_ASSERT_EQUAL(memcmp(s->params, t->params, s->reg.total * sizeof(float)), 0);
    tr_session_close(t);

    char *extra[] = {"model.encoder_units=16"};
    tr_config *cfg3 = NULL;
    CU_ASSERT_EQUAL_FATAL(tr_test_load_config(&cfg3, "time", 1, extra, &err), TR_OK);
    CU_ASSERT_EQUAL_FATAL(tr_session_open(&t, cfg3, 0, &err), TR_OK);
    CU_ASSERT_EQUAL(tr_checkpoint_load(t, path, 0, &err), TR_ERR_CHECKPOINT);
    printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "has shape [41, 128] in the checkpoint, the model wants [41, 64]"));
    tr_session_close(t);
    tr_session_close(s);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"bitwise identical: 1 thread, 2 threads, re-run", same_bits_for_1_and_2_threads_and_rerun},
        {"checkpoint round trip and shape check", checkpoint_round_trip_and_shape_check},
        {NULL, NULL},
    };
    return tr_test_run("determinism", cases);
}

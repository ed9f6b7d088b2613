/* tests/test_text_attn.c - the text_attn classifier, loaded straight from the
 * build (no config, no dataset): the plugin is dlopen()ed, given a
 * tr_model_info of our own (3 classes, 12 tokens, T = 7) and batches with
 * mixed lengths, and checked for
 *  - its whole-model gradient against central differences, every tensor, for
 *    each pooling (attention with and without tanh, local-p, last, mean), one
 *    and two directions, with dropout on (a fixed key: a fixed mask);
 *  - padding that changes nothing: other ids at padded positions give the
 *    same bits; attention weights 0 there and summing to 1; probabilities;
 *  - dropout keyed by (key, sample index): no dependence on the key in
 *    evaluation, on the samples' order or on the sub-batch;
 *  - create()'s one-line refusals. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/plugin_loader.h"
#include "base/registry.h"
#include "trainer/layers.h"
#include "tr_check.h"
#include "tr_test.h"

#define T 7     /* src_len */
#define V 12    /* source vocabulary: 0 <pad>, 1 <unk>, 2.. words */
#define C 3     /* classes */
#define NMAX 8  /* max_batch */
#define PAD 0

static const char *const class_names[C] = {"negative", "neutral", "positive"};

/* ---- the plugin with a model of our own: options from "key=value ..." */

typedef struct fx {
    tr_loaded_plugin lib;
    const tr_plugin *pl;
    tr_model *model;
    tr_registry reg;
    float *P, *G, *G2; /* params, grads, grads of the finite-difference calls */
    void *scratch;
    tr_option_value opt[16];
    char text[16][32];
    tr_model_info info;
    tr_batch b; /* what loss_of() trains on */
} fx;

/* the option's value text: its override in `over` ("a=1 b=x"), else its default */
static void option_text(char *out, size_t len, const tr_option_spec *o, const char *over)
{
    snprintf(out, len, "%s", o->default_value);
    const size_t k = strlen(o->name);
    for (const char *s = over; s && *s;) {
        while (*s == ' ') s++;
        const char *end = strchr(s, ' ');
        if (!end) end = s + strlen(s);
        if ((size_t)(end - s) > k && !strncmp(s, o->name, k) && s[k] == '=')
            snprintf(out, len, "%.*s", (int)(end - s - (ptrdiff_t)k - 1), s + k + 1);
        s = end;
    }
}

static void parse_options(fx *f, const char *over)
{
    CU_ASSERT_FATAL(f->pl->n_options <= 16);
    for (int i = 0; i < f->pl->n_options; i++) {
        const tr_option_spec *o = &f->pl->options[i];
        tr_option_value *v = &f->opt[i];
        option_text(f->text[i], sizeof f->text[i], o, over);
        v->s = f->text[i];
        v->i = strtol(f->text[i], NULL, 10);
        v->f = strtod(f->text[i], NULL);
        if (o->type == TR_OPT_BOOL)
            v->i = !strcmp(f->text[i], "true");
        if (o->type == TR_OPT_ENUM) { /* its index in "a|b|c" */
            v->i = -1;
            long k = 0;
            for (const char *c = o->choices; c; c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL, k++) {
                const size_t w = strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c);
                if (w == strlen(f->text[i]) && !strncmp(c, f->text[i], w))
                    v->i = k;
            }
            CU_ASSERT_FATAL(v->i >= 0);
        }
    }
}

static tr_model_info model_info(const tr_option_value *opt)
{
    return (tr_model_info){.size = sizeof(tr_model_info), .src_len = T, .tgt_len = 1, .src_vocab = V,
                           .tgt_vocab = C, .src_pad = PAD, .tgt_pad = -1, .max_batch = NMAX, .options = opt,
                           .tgt_bos = -1, .tgt_eos = -1, .task = TR_TASK_CLASSIFY, .n_classes = C,
                           .class_names = class_names, .src_unk = 1};
}

static void fx_load(fx *f)
{
    tr_error err = {0};
    memset(f, 0, sizeof *f);
    if (tr_plugin_open(&f->lib, TR_BUILD_PLUGIN_DIR "/text_attn.so", NULL, &err))
        printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->lib.desc);
    f->pl = f->lib.desc;
}

/* a model with options `over`, initialised as the core would (seed 7), then
 * moved off the initial point (nonzero biases, peaked attention) unless `at_init` */
static void fx_open(fx *f, const char *over, int at_init)
{
    fx_load(f);
    parse_options(f, over);
    f->info = model_info(f->opt);
    tr_error err = {0};
    if (f->pl->create(&f->model, &f->reg, &f->info, &err))
        printf("\n  create: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->model);
    f->P = falloc((int)f->reg.total);
    f->G = falloc((int)f->reg.total);
    f->G2 = falloc((int)f->reg.total);
    CU_ASSERT_EQUAL_FATAL(tr_registry_init_values(&f->reg, f->P, 7, &err), TR_OK);
    rng_seed(11);
    if (!at_init)
        for (size_t i = 0; i < f->reg.total; i++)
            f->P[i] = 2.0f * f->P[i] + rng_unif(-0.3f, 0.3f);
    const size_t bytes = f->pl->scratch_bytes(f->model, NMAX);
    f->scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->scratch);
}

static void fx_close(fx *f)
{
    f->pl->destroy(f->model);
    tr_registry_free(&f->reg);
    free(f->P); free(f->G); free(f->G2); free(f->scratch);
    tr_plugin_close(&f->lib);
}

/* ---- batches: samples of the given lengths, post-padded with <pad> (or,
 * junk != 0, with word ids: the lengths still say where they end) */

typedef struct samples {
    int n;
    int32_t src[NMAX * T], tgt[NMAX], len[NMAX];
    int64_t index[NMAX];
} samples;

static samples make_samples(int n, const int *lens, int junk)
{
    samples s = {.n = n};
    rng_seed(3);
    for (int i = 0; i < n; i++) {
        s.len[i] = lens[i];
        s.tgt[i] = (i * 2 + 1) % C;
        s.index[i] = 1000 + 37 * i;
        for (int t = 0; t < T; t++) {
            const int32_t word = 2 + (int32_t)(rng_u32() % (V - 2)), other = 1 + (int32_t)(rng_u32() % (V - 1));
            s.src[i * T + t] = t < lens[i] ? word : junk ? other : PAD;
        }
    }
    return s;
}

static tr_batch batch_of(const samples *s, uint64_t key, int training)
{
    return (tr_batch){.size = sizeof(tr_batch), .n = s->n, .src = s->src, .tgt = s->tgt, .src_lengths = s->len,
                      .index = s->index, .key = key, .training = training};
}

static double train_into(fx *f, float *grad, const tr_batch *b)
{
    double loss = 0;
    tr_error err = {0};
    memset(grad, 0, f->reg.total * sizeof *grad);
    CU_ASSERT_EQUAL(f->pl->train(f->model, f->P, grad, f->scratch, b, &loss, &err), TR_OK);
    return loss;
}

static double loss_of(void *ctx)
{
    fx *f = ctx;
    return train_into(f, f->G2, &f->b);
}

static const int mixed[6] = {1, T, 4, 2, 6, 3};

/* ---- whole-model gradient */

static void gradient(const char *over)
{
    char opts[256];
    snprintf(opts, sizeof opts, "embedding=4 units=3 window=2 dropout=0.25 %s", over);
    fx f;
    fx_open(&f, opts, 0);
    samples s = make_samples(6, mixed, 0);
    f.b = batch_of(&s, 0xC0FFEEull, 1);
    const double l0 = train_into(&f, f.G, &f.b);
    CU_ASSERT(isfinite(l0) && l0 > 0);
    CU_ASSERT_EQUAL(loss_of(&f), l0); /* a fixed key: a fixed mask, the same loss */
    printf("\n    %s: loss %.6f", over, l0);
    for (int t = 0; t < f.reg.n; t++) {
        const tr_tensor *tt = &f.reg.tensors[t];
        CU_ASSERT(max_abs(f.G + tt->offset, (int)tt->count) > 0); /* every tensor gets a gradient */
        const double worst = grad_check_h(tt->name, loss_of, &f, f.P + tt->offset, f.G + tt->offset,
                                          (int)tt->count, GC_H);
        CU_ASSERT(worst < GC_TOL);
    }
    fx_close(&f);
}

static void gradient_attention_tanh(void) { gradient("pool=attention attention_tanh=true"); }
static void gradient_attention_linear(void) { gradient("pool=attention attention_tanh=false label_smoothing=0.1"); }
static void gradient_attention_bi(void) { gradient("pool=attention bidirectional=true"); }
static void gradient_attention_linear_bi(void) { gradient("pool=attention attention_tanh=false bidirectional=true"); }
static void gradient_local(void) { gradient("pool=attention attention=local"); }
static void gradient_local_bi(void)
{
    gradient("pool=attention attention=local bidirectional=true attention_tanh=false");
}
static void gradient_last(void) { gradient("pool=last"); }
static void gradient_last_bi(void) { gradient("pool=last bidirectional=true"); }
static void gradient_mean(void) { gradient("pool=mean"); }
static void gradient_mean_bi(void) { gradient("pool=mean bidirectional=true label_smoothing=0.1"); }

/* ---- initialisation: names, shapes, Keras' initialisers */

static void initialisation(void)
{
    fx f;
    fx_open(&f, "embedding=5 units=4 bidirectional=true attention=local", 1);
    static const struct { const char *name; int d0, d1; tr_init_kind kind; } want[] = {
        {"embedding", V, 5, TR_INIT_UNIFORM},
        {"lstm.forward.kernel", 5, 16, TR_INIT_GLOROT_UNIFORM},
        {"lstm.forward.recurrent_kernel", 4, 16, TR_INIT_ORTHOGONAL},
        {"lstm.forward.bias", 16, 0, TR_INIT_LSTM_BIAS},
        {"lstm.backward.kernel", 5, 16, TR_INIT_GLOROT_UNIFORM},
        {"lstm.backward.recurrent_kernel", 4, 16, TR_INIT_ORTHOGONAL},
        {"lstm.backward.bias", 16, 0, TR_INIT_LSTM_BIAS},
        {"attention.W", 8, 1, TR_INIT_GLOROT_UNIFORM},
        {"attention.b", T, 1, TR_INIT_ZEROS},
        {"attention.Wp", 8, 8, TR_INIT_GLOROT_UNIFORM},
        {"attention.vp", 8, 0, TR_INIT_GLOROT_UNIFORM},
        {"output.kernel", 8, C, TR_INIT_GLOROT_UNIFORM},
        {"output.bias", C, 0, TR_INIT_ZEROS},
    };
    const int n = (int)(sizeof want / sizeof want[0]);
    CU_ASSERT_EQUAL(f.reg.n, n);
    for (int k = 0; k < n; k++) {
        const tr_tensor *t = tr_registry_find(&f.reg, want[k].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(t->ndim, want[k].d1 ? 2 : 1);
        CU_ASSERT_EQUAL(t->shape[0], want[k].d0);
        if (want[k].d1)
            CU_ASSERT_EQUAL(t->shape[1], want[k].d1);
        CU_ASSERT_EQUAL(t->init.kind, want[k].kind);
    }
    const tr_tensor *e = tr_registry_find(&f.reg, "embedding"), *b = tr_registry_find(&f.reg, "lstm.forward.bias");
    CU_ASSERT(max_abs(f.P + e->offset, (int)e->count) <= 0.05 && max_abs(f.P + e->offset, (int)e->count) > 0);
    for (int j = 0; j < 16; j++) /* gates i, f, c, o: forget bias 1 */
        CU_ASSERT_EQUAL(f.P[b->offset + (size_t)j], j / 4 == 1 ? 1.0f : 0.0f);
    fx_close(&f);
    /* last and mean pooling have no attention tensors */
    fx_open(&f, "pool=mean", 1);
    CU_ASSERT_PTR_NULL(tr_registry_find(&f.reg, "attention.W"));
    CU_ASSERT_EQUAL(f.reg.n, 6);
    fx_close(&f);
}

/* ---- padding is invisible */

static int same_bits(const float *a, const float *b, size_t n, double *worst)
{
    *worst = 0;
    for (size_t i = 0; i < n; i++)
        *worst = fmax(*worst, fabs((double)a[i] - b[i]));
    return memcmp(a, b, n * sizeof *a) == 0;
}

static void padding(const char *over)
{
    char opts[256];
    snprintf(opts, sizeof opts, "embedding=4 units=3 window=2 dropout=0.3 %s", over);
    fx f;
    fx_open(&f, opts, 0);
    samples clean = make_samples(6, mixed, 0), junk = make_samples(6, mixed, 1);
    CU_ASSERT(memcmp(clean.src, junk.src, sizeof clean.src) != 0);
    tr_batch bc = batch_of(&clean, 99, 1), bj = batch_of(&junk, 99, 1);
    const double lc = train_into(&f, f.G, &bc), lj = train_into(&f, f.G2, &bj);
    double worst;
    const int bits = same_bits(f.G, f.G2, f.reg.total, &worst);
    printf("\n    %-40s loss %s, gradient %s (max diff %.1e)", over, lc == lj ? "same bits" : "DIFFERS",
           bits ? "same bits" : "differs", worst);
    CU_ASSERT(fabs(lc - lj) <= 1e-6 * fabs(lc));
    CU_ASSERT(worst <= 1e-6);
    /* predict: the same probabilities and weights */
    float pc[NMAX * C], pj[NMAX * C], ac[NMAX * T], aj[NMAX * T];
    int32_t tok[NMAX];
    tr_prediction oc = {.size = sizeof oc, .tokens = tok, .attention = ac, .probs = pc};
    tr_prediction oj = {.size = sizeof oj, .tokens = tok, .attention = aj, .probs = pj};
    tr_error err = {0};
    bc.training = bj.training = 0;
    CU_ASSERT_EQUAL(f.pl->predict(f.model, f.P, f.scratch, &bc, &oc, &err), TR_OK);
    CU_ASSERT_EQUAL(f.pl->predict(f.model, f.P, f.scratch, &bj, &oj, &err), TR_OK);
    CU_ASSERT(same_bits(pc, pj, 6 * C, &worst) || worst <= 1e-6);
    CU_ASSERT(same_bits(ac, aj, 6 * T, &worst) || worst <= 1e-6);
    fx_close(&f);
}

static void padding_invisible(void)
{
    padding("pool=attention");
    padding("pool=attention bidirectional=true");
    padding("pool=attention attention=local bidirectional=true");
    padding("pool=last bidirectional=true");
    padding("pool=mean bidirectional=true");
}

/* ---- what predict() exports */

static void predictions(const char *over)
{
    char opts[256];
    snprintf(opts, sizeof opts, "embedding=4 units=3 window=1 %s", over);
    fx f;
    fx_open(&f, opts, 0);
    samples s = make_samples(6, mixed, 1);
    tr_batch b = batch_of(&s, 5, 0);
    float probs[NMAX * C], att[NMAX * T];
    int32_t tok[NMAX];
    for (int i = 0; i < NMAX * T; i++)
        att[i] = -1.0f;
    tr_prediction out = {.size = sizeof out, .tokens = tok, .attention = att, .probs = probs};
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(f.pl->predict(f.model, f.P, f.scratch, &b, &out, &err), TR_OK);
    int local = strstr(over, "local") != NULL, ok = 1;
    for (int i = 0; i < 6; i++) {
        double sum = 0, psum = 0;
        int nonzero = 0, best = 0;
        for (int t = 0; t < T; t++) {
            const float a = att[i * T + t];
            ok &= a >= 0.0f && a <= 1.0f && (t < s.len[i] || a == 0.0f); /* exactly 0 at padding */
            sum += a;
            nonzero += a != 0.0f;
        }
        ok &= fabs(sum - 1.0) < 1e-5;
        if (local) /* at most the window's 2D + 1 = 3 positions */
            ok &= nonzero <= 3;
        for (int k = 0; k < C; k++) {
            psum += probs[i * C + k];
            best = probs[i * C + k] > probs[i * C + best] ? k : best;
        }
        ok &= fabs(psum - 1.0) < 1e-5 && tok[i] == best;
    }
    printf("\n    %-40s weights 0 at padding, sum 1; probs sum 1, argmax = tokens: %s", over, ok ? "yes" : "NO");
    CU_ASSERT(ok);
    /* every pointer may be NULL; an older core's prediction has no probs */
    tr_prediction none = {.size = offsetof(tr_prediction, probs)};
    CU_ASSERT_EQUAL(f.pl->predict(f.model, f.P, f.scratch, &b, &none, &err), TR_OK);
    fx_close(&f);
}

static void predict_outputs(void)
{
    predictions("pool=attention");
    predictions("pool=attention attention_tanh=false bidirectional=true");
    predictions("pool=attention attention=local");
    predictions("pool=last");
    predictions("pool=last bidirectional=true");
    predictions("pool=mean");
}

/* an empty sample (length 0): finite, all-zero weights */
static void empty_sample(void)
{
    const char *pools[] = {"pool=attention", "pool=attention attention=local bidirectional=true", "pool=last",
                           "pool=mean"};
    for (int k = 0; k < 4; k++) {
        char opts[256];
        snprintf(opts, sizeof opts, "embedding=4 units=3 %s", pools[k]);
        fx f;
        fx_open(&f, opts, 0);
        const int lens[2] = {0, 3};
        samples s = make_samples(2, lens, 0);
        tr_batch b = batch_of(&s, 5, 1);
        CU_ASSERT(isfinite(train_into(&f, f.G, &b)));
        CU_ASSERT(isfinite(max_abs(f.G, (int)f.reg.total)));
        float att[2 * T], probs[2 * C];
        tr_prediction out = {.size = sizeof out, .attention = att, .probs = probs};
        tr_error err = {0};
        CU_ASSERT_EQUAL(f.pl->predict(f.model, f.P, f.scratch, &b, &out, &err), TR_OK);
        CU_ASSERT(all_zero(att, T));
        fx_close(&f);
    }
}

/* ---- dropout: keyed by (step key, sample index), nothing else */

static void dropout_keys(void)
{
    fx f;
    fx_open(&f, "embedding=4 units=3 bidirectional=true dropout=0.3", 0);
    samples s = make_samples(6, mixed, 0);
    tr_batch b1 = batch_of(&s, 1, 0), b2 = batch_of(&s, 2, 0);
    const double e1 = train_into(&f, f.G, &b1), e2 = train_into(&f, f.G, &b2);
    CU_ASSERT_EQUAL(e1, e2); /* evaluation: no dropout, whatever the key */
    b1.training = b2.training = 1;
    const double t1 = train_into(&f, f.G, &b1), t1again = train_into(&f, f.G2, &b1), t2 = train_into(&f, f.G2, &b2);
    printf("\n    loss: eval %.6f (keys 1, 2: %s); train key 1 %.6f, again %.6f, key 2 %.6f", e1,
           e1 == e2 ? "same" : "differ", t1, t1again, t2);
    CU_ASSERT_EQUAL(t1, t1again);
    CU_ASSERT(t1 != t2);
    CU_ASSERT(t1 != e1);
    /* an older core's batch (no key, no lengths): no dropout, lengths from the padding */
    tr_batch old = {.size = offsetof(tr_batch, src_lengths), .n = s.n, .src = s.src, .tgt = s.tgt};
    CU_ASSERT_EQUAL(train_into(&f, f.G, &old), e1);
    fx_close(&f);
}

/* the same samples in another order (index[] moved with them), or each in a
 * sub-batch of its own: the same losses and gradients */
static void layout_independence(void)
{
    fx f;
    fx_open(&f, "embedding=4 units=3 bidirectional=true dropout=0.3 attention=local window=2", 0);
    samples s = make_samples(6, mixed, 0), r = s;
    static const int perm[6] = {4, 0, 5, 2, 1, 3};
    for (int i = 0; i < 6; i++) {
        const int j = perm[i];
        memcpy(r.src + i * T, s.src + j * T, T * sizeof *s.src);
        r.tgt[i] = s.tgt[j];
        r.len[i] = s.len[j];
        r.index[i] = s.index[j];
    }
    tr_batch bs = batch_of(&s, 77, 1), br = batch_of(&r, 77, 1);
    const double ls = train_into(&f, f.G, &bs), lr = train_into(&f, f.G2, &br);
    double worst;
    int bits = same_bits(f.G, f.G2, f.reg.total, &worst);
    CU_ASSERT(fabs(ls - lr) <= 1e-6 * fabs(ls));
    CU_ASSERT(worst <= 1e-5);
    printf("\n    permuted batch: loss %.9f vs %.9f, gradient max diff %.1e (%s)", ls, lr, worst,
           bits ? "same bits" : "rounding");
    /* each sample alone */
    float *sum = falloc((int)f.reg.total);
    double lsum = 0;
    for (int i = 0; i < 6; i++) {
        samples one = {.n = 1, .tgt = {s.tgt[i]}, .len = {s.len[i]}, .index = {s.index[i]}};
        memcpy(one.src, s.src + i * T, T * sizeof *s.src);
        tr_batch b1 = batch_of(&one, 77, 1);
        lsum += train_into(&f, f.G2, &b1);
        tr_add_inplace(sum, f.G2, (long)f.reg.total);
    }
    bits = same_bits(f.G, sum, f.reg.total, &worst);
    printf("\n    one sample per call: loss %.9f vs %.9f, gradient max diff %.1e", lsum, ls, worst);
    CU_ASSERT(fabs(ls - lsum) <= 1e-6 * fabs(ls));
    CU_ASSERT(worst <= 1e-5);
    /* per-sample predictions: sample j of s is row i of r */
    float ps[NMAX * C], pr[NMAX * C], as[NMAX * T], ar[NMAX * T];
    tr_prediction os = {.size = sizeof os, .attention = as, .probs = ps};
    tr_prediction orr = {.size = sizeof orr, .attention = ar, .probs = pr};
    tr_error err = {0};
    CU_ASSERT_EQUAL(f.pl->predict(f.model, f.P, f.scratch, &bs, &os, &err), TR_OK);
    CU_ASSERT_EQUAL(f.pl->predict(f.model, f.P, f.scratch, &br, &orr, &err), TR_OK);
    double pw = 0;
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < C; k++)
            pw = fmax(pw, fabs(pr[i * C + k] - ps[perm[i] * C + k]));
        for (int t = 0; t < T; t++)
            pw = fmax(pw, fabs(ar[i * T + t] - as[perm[i] * T + t]));
    }
    CU_ASSERT(pw <= 1e-6);
    free(sum);
    fx_close(&f);
}

/* ---- create()'s refusals: one line, TR_ERR_CONFIG */

static void refuses(const char *over, void (*edit)(tr_model_info *), const char *want)
{
    fx f;
    fx_load(&f);
    parse_options(&f, over);
    f.info = model_info(f.opt);
    if (edit)
        edit(&f.info);
    tr_error err = {0};
    CU_ASSERT_EQUAL(f.pl->create(&f.model, &f.reg, &f.info, &err), TR_ERR_CONFIG);
    printf("\n    %s", err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
    tr_registry_free(&f.reg);
    tr_plugin_close(&f.lib);
}

static void seq2seq(tr_model_info *i) { i->task = TR_TASK_SEQ2SEQ; i->n_classes = 0; i->tgt_len = 9; }
static void images(tr_model_info *i) { i->in_channels = 1; i->in_height = i->in_width = 28; }
static void one_class(tr_model_info *i) { i->n_classes = i->tgt_vocab = 1; }
static void old_core(tr_model_info *i) { i->size = offsetof(tr_model_info, task); }

static void create_refusals(void)
{
    refuses("", seq2seq, "it classifies: data.kind must be text_labels, got a sequence task");
    refuses("", images, "got images");
    refuses("", one_class, "at least 2 classes");
    refuses("", old_core, "ABI 1.4");
    /* out-of-range options are refused by the core from their declared
     * ranges before create() (tests/cli/text_labels.sh) */
    refuses("pool=mean attention=local", NULL, "attention: local needs pool: attention");
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"gradient, attention (tanh), dropout", gradient_attention_tanh},
        {"gradient, attention (no tanh), label smoothing", gradient_attention_linear},
        {"gradient, attention (tanh), bidirectional", gradient_attention_bi},
        {"gradient, attention (no tanh), bidirectional", gradient_attention_linear_bi},
        {"gradient, local-p attention", gradient_local},
        {"gradient, local-p attention, bidirectional", gradient_local_bi},
        {"gradient, last state", gradient_last},
        {"gradient, last state, bidirectional", gradient_last_bi},
        {"gradient, mean", gradient_mean},
        {"gradient, mean, bidirectional", gradient_mean_bi},
        {"tensors and Keras initialisers", initialisation},
        {"padding changes no bit", padding_invisible},
        {"predict: weights, probabilities, classes", predict_outputs},
        {"an empty sample", empty_sample},
        {"dropout keyed by step and sample", dropout_keys},
        {"sample order and sub-batches change nothing", layout_independence},
        {"create() refusals", create_refusals},
        {NULL, NULL},
    };
    return tr_test_run("text_attn", cases);
}

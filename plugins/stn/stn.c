/* plugins/stn/stn.c - the spatial transformer network of the PyTorch
 * tutorial (Jaderberg et al., 2015) for grey images of 28x28:
 *
 *   localisation: conv 8@7x7 -> maxpool 2 -> ReLU -> conv 10@5x5 -> maxpool 2
 *                 -> ReLU -> fc 90->32 -> ReLU -> fc 32->6 = theta (2x3),
 *                 initialised to the identity (weights 0, bias 1 0 0 0 1 0)
 *   sampler:      x' = x read bilinearly on theta's grid (trainer/vision.h)
 *   classifier:   conv 10@5x5 -> maxpool 2 -> ReLU -> conv 20@5x5 ->
 *                 channel dropout -> maxpool 2 -> ReLU -> fc 320->50 -> ReLU
 *                 -> dropout -> fc 50->classes -> softmax
 *
 * stn: false is the classifier alone (x' = x). Every layer is PyTorch's
 * default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)). predict()
 * exports theta and the transformed image (attention.h5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

enum { L1, L2, C1, C2, CONVS }; /* the convolutions: localisation 1, 2; classifier 1, 2 */
enum { SITE_CHANNELS, SITE_FC };   /* the dropout sites (tr_dropout_key) */

typedef struct conv {
    int Ci, Hi, Wi, Co, K, Ho, Wo, Hp, Wp; /* Hp, Wp: after the 2x2 max pool */
    size_t w, b;
} conv;

typedef struct tr_model {
    int stn, align, classes, C, H, W;
    float p; /* dropout */
    conv cv[CONVS];
    size_t loc1_w, loc1_b, loc2_w, loc2_b, fc1_w, fc1_b, fc2_w, fc2_b;
    int n_maps;
    tr_map_spec maps[2];
} tr_model;

static const int LOC_HIDDEN = 32, FC_HIDDEN = 50;

/* ---- scratch */

typedef struct bufs {
    float *z[CONVS];     /* conv output [n,Co,Ho,Wo] */
    float *a[CONVS];     /* pooled and ReLU'd [n,Co,Hp,Wp] */
    float *da[CONVS];    /* the gradient w.r.t. a */
    int32_t *arg[CONVS]; /* the pools' argmax */
    float *l1, *theta, *grid, *xt;     /* [n,32], [n,6], [n,H,W,2], [n,C,H,W] */
    float *dl1, *dtheta, *dgrid, *dxt;
    float *cmask, *ones, *zd;          /* channel dropout: [n,20] weights, [n,20] ones, conv 2 masked */
    float *f1, *f1d, *fmask, *df1, *df1d; /* [n,50] */
    float *logits, *probs, *dlogits;   /* [n,classes] */
    uint64_t *keys;                    /* [n] */
    float *conv_scr, *dz;              /* the convolutions' scratch, dL/d(conv output): the largest */
    size_t bytes;
} bufs;

static size_t conv_out(const conv *c, int n) { return (size_t)n * c->Co * c->Ho * c->Wo; }
static size_t pool_out(const conv *c, int n) { return (size_t)n * c->Co * c->Hp * c->Wp; }

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    memset(&b, 0, sizeof b);
    tr_arena ar = {base, 0};
    size_t scr = 0, big = 0;
    for (int i = m->stn ? L1 : C1; i < CONVS; i++) {
        const conv *c = &m->cv[i];
        TR_TAKE(&ar, b.z[i], conv_out(c, n));
        tr_arena_floats(&ar, pool_out(c, n), &b.a[i], &b.da[i], NULL);
        TR_TAKE(&ar, b.arg[i], pool_out(c, n));
        const size_t s = tr_conv2d_scratch_floats(n, c->Ci, c->Hi, c->Wi, c->Co, c->K, 1, 0);
        scr = s > scr ? s : scr;
        big = conv_out(c, n) > big ? conv_out(c, n) : big;
    }
    tr_arena_floats(&ar, scr, &b.conv_scr, NULL);
    tr_arena_floats(&ar, big, &b.dz, NULL);
    if (m->stn) {
        tr_arena_floats(&ar, (size_t)n * LOC_HIDDEN, &b.l1, &b.dl1, NULL);
        tr_arena_floats(&ar, (size_t)n * 6, &b.theta, &b.dtheta, NULL);
        tr_arena_floats(&ar, (size_t)n * m->H * m->W * 2, &b.grid, &b.dgrid, NULL);
        tr_arena_floats(&ar, (size_t)n * m->C * m->H * m->W, &b.xt, &b.dxt, NULL);
    }
    tr_arena_floats(&ar, (size_t)n * m->cv[C2].Co, &b.cmask, &b.ones, NULL);
    TR_TAKE(&ar, b.zd, conv_out(&m->cv[C2], n));
    tr_arena_floats(&ar, (size_t)n * FC_HIDDEN, &b.f1, &b.f1d, &b.fmask, &b.df1, &b.df1d, NULL);
    tr_arena_floats(&ar, (size_t)n * m->classes, &b.logits, &b.probs, &b.dlogits, NULL);
    TR_TAKE(&ar, b.keys, (size_t)n);
    b.bytes = ar.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* conv -> [channel dropout] -> maxpool 2 -> ReLU: b->a[i] */
static void conv_block(const tr_model *m, const float *P, bufs *b, int i, const float *x, int n, const float *cmask)
{
    const conv *c = &m->cv[i];
    tr_conv2d_forward(b->z[i], x, P + c->w, P + c->b, b->conv_scr, n, c->Ci, c->Hi, c->Wi, c->Co, c->K, 1, 0);
    const float *z = b->z[i];
    if (cmask) {
        tr_scale_channels_forward(b->zd, b->z[i], cmask, n, c->Co, c->Ho * c->Wo);
        z = b->zd;
    }
    tr_maxpool_forward(b->a[i], b->arg[i], z, n, c->Co, c->Ho, c->Wo, 2, 2);
    tr_act_forward(b->a[i], b->a[i], (int)pool_out(c, n), TR_ACT_RELU);
}

/* b->da[i] back through block i: its parameters' gradients, and dx (NULL:
 * not needed; else overwritten) w.r.t. its input x */
static void conv_block_back(const tr_model *m, const float *P, float *G, bufs *b, int i, const float *x, float *dx,
                            int n, const float *cmask)
{
    const conv *c = &m->cv[i];
    const size_t np = pool_out(c, n), nz = conv_out(c, n);
    float *d = b->da[i];
    for (size_t j = 0; j < np; j++) /* ReLU after the pool: a > 0 passes */
        d[j] = b->a[i][j] > 0.0f ? d[j] : 0.0f;
    memset(b->dz, 0, nz * sizeof(float));
    tr_maxpool_backward(b->dz, d, b->arg[i], n, c->Co, c->Ho, c->Wo, 2, 2);
    if (cmask) /* z * mask: dz * mask */
        tr_scale_channels_forward(b->dz, b->dz, cmask, n, c->Co, c->Ho * c->Wo);
    if (dx)
        memset(dx, 0, (size_t)n * c->Ci * c->Hi * c->Wi * sizeof(float));
    tr_conv2d_backward(dx, G + c->w, G + c->b, b->dz, x, P + c->w, b->conv_scr, n, c->Ci, c->Hi, c->Wi, c->Co, c->K,
                       1, 0);
}

/* train != 0: dropout from the batch's keys */
static void forward(const tr_model *m, const float *P, bufs *b, const tr_batch *bt, int train)
{
    const int n = bt->n;
    const float *x = bt->input;
    if (m->stn) {
        conv_block(m, P, b, L1, x, n, NULL);
        conv_block(m, P, b, L2, b->a[L1], n, NULL);
        const conv *l2 = &m->cv[L2];
        tr_dense_forward(b->l1, b->a[L2], P + m->loc1_w, P + m->loc1_b, n, l2->Co * l2->Hp * l2->Wp, LOC_HIDDEN);
        tr_act_forward(b->l1, b->l1, n * LOC_HIDDEN, TR_ACT_RELU);
        tr_dense_forward(b->theta, b->l1, P + m->loc2_w, P + m->loc2_b, n, LOC_HIDDEN, 6);
        for (int i = 0; i < n; i++) { /* theta = identity + fc2: see create() */
            b->theta[6 * i] += 1.0f;
            b->theta[6 * i + 4] += 1.0f;
        }
        tr_affine_grid_forward(b->grid, b->theta, n, m->H, m->W, m->align);
        tr_grid_sample_forward(b->xt, x, b->grid, n, m->C, m->H, m->W, m->H, m->W, m->align);
        x = b->xt;
    }
    const float p = train ? m->p : 0.0f;
    const conv *c2 = &m->cv[C2];
    for (int i = 0; i < n; i++)
        b->keys[i] = p > 0 ? tr_dropout_key(bt->key, bt->index ? bt->index[i] : i, SITE_CHANNELS, 0) : 0;
    for (size_t j = 0; j < (size_t)n * c2->Co; j++)
        b->ones[j] = 1.0f;
    tr_dropout_forward(b->cmask, NULL, b->ones, b->keys, p, n, c2->Co); /* per channel: 0 or 1/(1-p) */
    conv_block(m, P, b, C1, x, n, NULL);
    conv_block(m, P, b, C2, b->a[C1], n, b->cmask);
    tr_dense_forward(b->f1, b->a[C2], P + m->fc1_w, P + m->fc1_b, n, c2->Co * c2->Hp * c2->Wp, FC_HIDDEN);
    tr_act_forward(b->f1, b->f1, n * FC_HIDDEN, TR_ACT_RELU);
    for (int i = 0; i < n; i++)
        b->keys[i] = p > 0 ? tr_dropout_key(bt->key, bt->index ? bt->index[i] : i, SITE_FC, 0) : 0;
    tr_dropout_forward(b->f1d, b->fmask, b->f1, b->keys, p, n, FC_HIDDEN);
    tr_dense_forward(b->logits, b->f1d, P + m->fc2_w, P + m->fc2_b, n, FC_HIDDEN, m->classes);
}

static tr_status check_batch(const tr_batch *batch, tr_error *err)
{
    if (batch->size < offsetof(tr_batch, input) + sizeof batch->input || !batch->input)
        return tr_error_set(err, TR_ERR_MODEL, "stn needs image inputs (data.kind: idx_images)");
    return TR_OK;
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    if (check_batch(batch, err))
        return err->status;
    const int n = batch->n, C = m->classes;
    bufs b = layout(m, n, scratch);
    forward(m, P, &b, batch, 1);
    *loss = tr_softmax_xent_smooth_forward(b.probs, b.logits, batch->tgt, 0.0f, n, C);

    /* classifier head */
    memset(b.dlogits, 0, (size_t)n * C * sizeof(float));
    tr_softmax_xent_smooth_backward(b.dlogits, b.probs, batch->tgt, 0.0f, 1.0f, n, C);
    memset(b.df1d, 0, (size_t)n * FC_HIDDEN * sizeof(float));
    tr_dense_backward(b.df1d, G + m->fc2_w, G + m->fc2_b, b.dlogits, b.f1d, P + m->fc2_w, n, FC_HIDDEN, C);
    memset(b.df1, 0, (size_t)n * FC_HIDDEN * sizeof(float));
    tr_dropout_backward(b.df1, b.df1d, b.fmask, n, FC_HIDDEN);
    for (int j = 0; j < n * FC_HIDDEN; j++)
        b.df1[j] = b.f1[j] > 0.0f ? b.df1[j] : 0.0f;
    const conv *c2 = &m->cv[C2];
    memset(b.da[C2], 0, pool_out(c2, n) * sizeof(float));
    tr_dense_backward(b.da[C2], G + m->fc1_w, G + m->fc1_b, b.df1, b.a[C2], P + m->fc1_w, n,
                      c2->Co * c2->Hp * c2->Wp, FC_HIDDEN);
    /* the classifier's convolutions */
    conv_block_back(m, P, G, &b, C2, b.a[C1], b.da[C1], n, b.cmask);
    conv_block_back(m, P, G, &b, C1, m->stn ? b.xt : batch->input, m->stn ? b.dxt : NULL, n, NULL);
    if (!m->stn)
        return TR_OK;
    /* through the sampler to theta, then the localisation network */
    memset(b.dgrid, 0, (size_t)n * m->H * m->W * 2 * sizeof(float));
    tr_grid_sample_backward(NULL, b.dgrid, b.dxt, batch->input, b.grid, n, m->C, m->H, m->W, m->H, m->W, m->align);
    memset(b.dtheta, 0, (size_t)n * 6 * sizeof(float));
    tr_affine_grid_backward(b.dtheta, b.dgrid, n, m->H, m->W, m->align);
    memset(b.dl1, 0, (size_t)n * LOC_HIDDEN * sizeof(float));
    tr_dense_backward(b.dl1, G + m->loc2_w, G + m->loc2_b, b.dtheta, b.l1, P + m->loc2_w, n, LOC_HIDDEN, 6);
    for (int j = 0; j < n * LOC_HIDDEN; j++)
        b.dl1[j] = b.l1[j] > 0.0f ? b.dl1[j] : 0.0f;
    const conv *l2 = &m->cv[L2];
    memset(b.da[L2], 0, pool_out(l2, n) * sizeof(float));
    tr_dense_backward(b.da[L2], G + m->loc1_w, G + m->loc1_b, b.dl1, b.a[L2], P + m->loc1_w, n,
                      l2->Co * l2->Hp * l2->Wp, LOC_HIDDEN);
    conv_block_back(m, P, G, &b, L2, b.a[L1], b.da[L1], n, NULL);
    conv_block_back(m, P, G, &b, L1, batch->input, NULL, n, NULL);
    return TR_OK;
}

static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch,
                         tr_prediction *out, tr_error *err)
{
    if (check_batch(batch, err))
        return err->status;
    const int n = batch->n, C = m->classes;
    bufs b = layout(m, n, scratch);
    forward(m, P, &b, batch, 0);
    if (out->tokens)
        tr_argmax_rows(out->tokens, 1, b.logits, n, C);
    float **maps = out->size >= offsetof(tr_prediction, maps) + sizeof out->maps ? out->maps : NULL;
    if (maps && m->stn && maps[0])
        memcpy(maps[0], b.theta, (size_t)n * 6 * sizeof(float));
    if (maps && m->stn && maps[1])
        memcpy(maps[1], b.xt, (size_t)n * m->C * m->H * m->W * sizeof(float));
    return TR_OK;
}

static int maps(const tr_model *m, tr_map_spec *specs, int max)
{
    for (int i = 0; i < m->n_maps && i < max; i++)
        specs[i] = m->maps[i];
    return m->n_maps;
}

/* ---- create / destroy */

static const tr_option_spec options[] = {
    {"stn", TR_OPT_BOOL, "true", NULL, "the spatial transformer before the classifier (false: the classifier alone)"},
    {"dropout", TR_OPT_FLOAT, "0.5", "[0, 1)", "the channel dropout after conv 2 and the dropout after fc 1"},
    {"align_corners", TR_OPT_BOOL, "false", NULL, "the sampling grid's corners: pixel centres (true) or edges"},
};

/* PyTorch's default for conv and linear layers: weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
static tr_init torch_default(int fan_in)
{
    const float l = 1.0f / sqrtf((float)fan_in);
    return (tr_init){TR_INIT_UNIFORM, -l, l};
}

static tr_status add_conv(tr_registry *reg, const char *name, conv *c, int Ci, int Hi, int Wi, int Co, int K,
                          tr_error *err)
{
    *c = (conv){.Ci = Ci, .Hi = Hi, .Wi = Wi, .Co = Co, .K = K};
    c->Ho = tr_conv2d_out(Hi, K, 1, 0);
    c->Wo = tr_conv2d_out(Wi, K, 1, 0);
    c->Hp = c->Ho / 2;
    c->Wp = c->Wo / 2;
    if (c->Hp < 1 || c->Wp < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "stn: images of %dx%d are too small for its convolutions", Hi, Wi);
    char n[TR_MAX_NAME];
    tr_status s;
    snprintf(n, sizeof n, "%s.kernel", name);
    if ((s = tr_param_add(reg, n, 4, (int[]){Co, Ci, K, K}, torch_default(Ci * K * K), &c->w, err)))
        return s;
    snprintf(n, sizeof n, "%s.bias", name);
    return tr_param_add(reg, n, 1, (int[]){Co}, torch_default(Ci * K * K), &c->b, err);
}

static tr_status add_fc(tr_registry *reg, const char *name, int in, int out, tr_init w, tr_init b, size_t *wo,
                        size_t *bo, tr_error *err)
{
    char n[TR_MAX_NAME];
    tr_status s;
    snprintf(n, sizeof n, "%s.kernel", name);
    if ((s = tr_param_add(reg, n, 2, (int[]){in, out}, w, wo, err)))
        return s;
    snprintf(n, sizeof n, "%s.bias", name);
    return tr_param_add(reg, n, 1, (int[]){out}, b, bo, err);
}

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (info->size < offsetof(tr_model_info, in_width) + sizeof info->in_width || info->in_channels < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "stn trains on images: set data.kind: idx_images");
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    m->stn = (int)o[0].i;
    m->p = (float)o[1].f;
    m->align = (int)o[2].i;
    m->classes = info->tgt_vocab;
    m->C = info->in_channels;
    m->H = info->in_height;
    m->W = info->in_width;
    conv *cv = m->cv;
    tr_status s = TR_OK;
    if (m->stn) {
        s = add_conv(reg, "localization.conv1", &cv[L1], m->C, m->H, m->W, 8, 7, err);
        if (!s) s = add_conv(reg, "localization.conv2", &cv[L2], 8, cv[L1].Hp, cv[L1].Wp, 10, 5, err);
        const int flat = s ? 1 : cv[L2].Co * cv[L2].Hp * cv[L2].Wp;
        if (!s) s = add_fc(reg, "localization.fc1", flat, LOC_HIDDEN, torch_default(flat), torch_default(flat),
                           &m->loc1_w, &m->loc1_b, err);
        /* theta starts as the identity: the tutorial's zero weights and bias
         * 1 0 0 0 1 0, kept here as theta = identity + fc2 (weights and bias
         * both zero at first: the same gradients and updates) */
        if (!s) s = add_fc(reg, "localization.fc2", LOC_HIDDEN, 6, (tr_init){TR_INIT_ZEROS, 0, 0},
                           (tr_init){TR_INIT_ZEROS, 0, 0}, &m->loc2_w, &m->loc2_b, err);
        m->maps[m->n_maps++] = (tr_map_spec){"stn/theta", 2, {2, 3}, "sample,row,col"};
        m->maps[m->n_maps++] = (tr_map_spec){"stn/transformed", 3, {m->C, m->H, m->W}, "sample,channel,y,x"};
    }
    if (!s) s = add_conv(reg, "conv1", &cv[C1], m->C, m->H, m->W, 10, 5, err);
    if (!s) s = add_conv(reg, "conv2", &cv[C2], 10, cv[C1].Hp, cv[C1].Wp, 20, 5, err);
    const int flat = s ? 1 : cv[C2].Co * cv[C2].Hp * cv[C2].Wp;
    if (!s) s = add_fc(reg, "fc1", flat, FC_HIDDEN, torch_default(flat), torch_default(flat), &m->fc1_w, &m->fc1_b,
                       err);
    if (!s) s = add_fc(reg, "fc2", FC_HIDDEN, m->classes, torch_default(FC_HIDDEN), torch_default(FC_HIDDEN),
                       &m->fc2_w, &m->fc2_b, err);
    if (s) {
        free(m);
        return s;
    }
    *out = m;
    return TR_OK;
}

static void destroy(tr_model *m) { free(m); }

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "stn",
    .version = "1.0.0",
    .description = "spatial transformer network (the PyTorch tutorial's) before a small CNN, for image classes",
    .options = options,
    .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = NULL,
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
    .score = NULL,
    .maps = maps,
};

TR_PLUGIN_DEFINE(descriptor)

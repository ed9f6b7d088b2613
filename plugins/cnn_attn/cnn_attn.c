/* plugins/cnn_attn/cnn_attn.c - a small CNN with channel / spatial attention
 * after each convolution, for Fashion-MNIST-sized grey images (NCHW):
 *
 *   conv3x3 (C0->32, stride 1) [+ BN] + ReLU -> attention
 *   conv3x3 (32->64, stride 2) [+ BN] + ReLU -> attention
 *   conv3x3 (64->128, stride 2) [+ BN] + ReLU -> attention
 *   global average pool -> Dense(128 -> classes) -> softmax
 *
 * attention: none | se (squeeze-and-excitation) | cbam (channel, then
 * spatial); the blocks live in the core (trainer/vision.h). norm: batch adds
 * batch normalisation after each convolution, with statistics over the
 * call's samples (one micro-shard: layouts stay bitwise identical) and
 * running statistics for prediction, kept as running tensors
 * (tr_param_add_running), so checkpoints carry them. label_smoothing
 * spreads that share of the training target over all classes. predict()
 * exports each block's channel weights and (cbam) spatial map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

enum { STAGES = 3, ATT_NONE = 0, ATT_SE = 1, ATT_CBAM = 2, K = 3 };
static const int widths[STAGES] = {32, 64, 128}, strides[STAGES] = {1, 2, 2};

typedef struct stage {
    int Ci, Co, Hi, Wi, Ho, Wo, S, Cr;
    size_t w, b;                  /* conv [Co,Ci,3,3], [Co] */
    size_t gamma, beta, rmean, rvar; /* batch norm [Co] each */
    size_t w1, b1, w2, b2;        /* attention MLP [Co,Cr], [Cr], [Cr,Co], [Co] */
    size_t ws, bs;                /* cbam spatial conv [1,2,7,7], [1] */
} stage;

typedef struct tr_model {
    int attn, norm, classes;
    float eps, smoothing;
    stage st[STAGES];
    size_t fc_w, fc_b;            /* [128, classes], [classes] */
    int n_maps;
    tr_map_spec maps[2 * STAGES];
} tr_model;

/* ---- scratch: one function computes the layout for sizing and for use */

typedef struct bufs {
    float *z[STAGES];    /* conv output [n,Co,HoWo] */
    float *u[STAGES];    /* after batch norm (norm) [n,Co,HoWo] */
    float *y[STAGES];    /* after attention (attn) [n,Co,HoWo] */
    float *mean[STAGES], *var[STAGES]; /* batch statistics [Co] */
    float *cache[STAGES];
    int32_t *icache[STAGES];
    float *conv_scr, *att_scr;
    float *gap, *logits, *probs; /* [n,128], [n,classes] x2 */
    float *dgap, *dlogits;
    float *d[2];         /* ping-pong gradient buffers, the largest activation */
    size_t bytes;
} bufs;

static size_t act_size(const stage *s, int n) { return (size_t)n * s->Co * s->Ho * s->Wo; }

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    memset(&b, 0, sizeof b);
    tr_arena ar = {base, 0};
    size_t conv = 0, att = 1, big = 0; /* the shared buffers: the largest of the stages' needs */
    for (int i = 0; i < STAGES; i++) {
        const stage *s = &m->st[i];
        const size_t a = act_size(s, n);
        TR_TAKE(&ar, b.z[i], a);
        if (m->norm) {
            TR_TAKE(&ar, b.u[i], a);
            tr_arena_floats(&ar, (size_t)s->Co, &b.mean[i], &b.var[i], NULL);
        }
        if (m->attn != ATT_NONE)
            TR_TAKE(&ar, b.y[i], a);
        size_t q = 0;
        if (m->attn == ATT_SE) {
            TR_TAKE(&ar, b.cache[i], tr_se_cache_floats(n, s->Co, s->Cr));
            q = tr_se_scratch_floats(n, s->Co, s->Cr);
        } else if (m->attn == ATT_CBAM) {
            TR_TAKE(&ar, b.cache[i], tr_cbam_cache_floats(n, s->Co, s->Ho, s->Wo, s->Cr));
            TR_TAKE(&ar, b.icache[i], tr_cbam_cache_ints(n, s->Co, s->Ho, s->Wo));
            q = tr_cbam_scratch_floats(n, s->Co, s->Ho, s->Wo, s->Cr);
        }
        const size_t c = tr_conv2d_scratch_floats(n, s->Ci, s->Hi, s->Wi, s->Co, K, s->S, 1);
        att = q > att ? q : att;
        conv = c > conv ? c : conv;
        big = a > big ? a : big;
    }
    TR_TAKE(&ar, b.conv_scr, conv);
    TR_TAKE(&ar, b.att_scr, att);
    tr_arena_floats(&ar, (size_t)n * m->st[STAGES - 1].Co, &b.gap, &b.dgap, NULL);
    tr_arena_floats(&ar, (size_t)n * m->classes, &b.logits, &b.probs, &b.dlogits, NULL);
    tr_arena_floats(&ar, big, &b.d[0], &b.d[1], NULL);
    b.bytes = ar.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* The stage's output: after attention, else after the ReLU. */
static float *stage_out(const tr_model *m, const bufs *b, int i)
{
    return m->attn != ATT_NONE ? b->y[i] : m->norm ? b->u[i] : b->z[i];
}

/* train != 0: batch statistics (and, with G, their running updates). */
static void forward(const tr_model *m, const float *P, float *G, bufs *b, const float *input, int n, int train)
{
    const float *x = input;
    for (int i = 0; i < STAGES; i++) {
        const stage *s = &m->st[i];
        const int HW = s->Ho * s->Wo;
        const size_t a = act_size(s, n);
        tr_conv2d_forward(b->z[i], x, P + s->w, P + s->b, b->conv_scr, n, s->Ci, s->Hi, s->Wi, s->Co, K, s->S, 1);
        float *r = b->z[i];
        if (m->norm) {
            r = b->u[i];
            if (train) {
                tr_batchnorm_forward(r, b->mean[i], b->var[i], b->z[i], P + s->gamma, P + s->beta, m->eps, n, s->Co,
                                     HW);
                if (G) { /* running statistics: n * this shard's mean and unbiased variance */
                    const double M = (double)n * HW, unb = M > 1 ? M / (M - 1) : 1.0;
                    for (int c = 0; c < s->Co; c++) {
                        G[s->rmean + c] += (float)n * b->mean[i][c];
                        G[s->rvar + c] += (float)(n * unb * b->var[i][c]);
                    }
                }
            } else
                tr_batchnorm_inference(r, b->z[i], P + s->gamma, P + s->beta, P + s->rmean, P + s->rvar, m->eps, n,
                                       s->Co, HW);
        }
        tr_act_forward(r, r, (int)a, TR_ACT_RELU);
        if (m->attn == ATT_SE)
            tr_se_forward(b->y[i], b->cache[i], r, P + s->w1, P + s->b1, P + s->w2, P + s->b2, n, s->Co, HW, s->Cr);
        else if (m->attn == ATT_CBAM)
            tr_cbam_forward(b->y[i], b->cache[i], b->icache[i], r, P + s->w1, P + s->b1, P + s->w2, P + s->b2,
                            P + s->ws, P + s->bs, b->att_scr, n, s->Co, s->Ho, s->Wo, s->Cr);
        x = stage_out(m, b, i);
    }
    const stage *l = &m->st[STAGES - 1];
    tr_global_avgpool_forward(b->gap, x, n, l->Co, l->Ho * l->Wo);
    tr_dense_forward(b->logits, b->gap, P + m->fc_w, P + m->fc_b, n, l->Co, m->classes);
}

static tr_status check_batch(const tr_batch *batch, tr_error *err)
{
    if (batch->size < offsetof(tr_batch, input) + sizeof batch->input || !batch->input)
        return tr_error_set(err, TR_ERR_MODEL, "cnn_attn needs image inputs (data.kind: idx_images)");
    return TR_OK;
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    if (check_batch(batch, err))
        return err->status;
    const int n = batch->n, C = m->classes;
    bufs b = layout(m, n, scratch);
    forward(m, P, G, &b, batch->input, n, 1);
    *loss = tr_softmax_xent_smooth_forward(b.probs, b.logits, batch->tgt, m->smoothing, n, C);

    const stage *l = &m->st[STAGES - 1];
    memset(b.dlogits, 0, (size_t)n * C * sizeof(float));
    tr_softmax_xent_smooth_backward(b.dlogits, b.probs, batch->tgt, m->smoothing, 1.0f, n, C);
    memset(b.dgap, 0, (size_t)n * l->Co * sizeof(float));
    tr_dense_backward(b.dgap, G + m->fc_w, G + m->fc_b, b.dlogits, b.gap, P + m->fc_w, n, l->Co, C);
    int cur = 0; /* b.d[cur] holds the gradient w.r.t. the current tensor */
    memset(b.d[cur], 0, act_size(l, n) * sizeof(float));
    tr_global_avgpool_backward(b.d[cur], b.dgap, n, l->Co, l->Ho * l->Wo);
    for (int i = STAGES - 1; i >= 0; i--) {
        const stage *s = &m->st[i];
        const int HW = s->Ho * s->Wo;
        const size_t a = act_size(s, n);
        float *r = m->norm ? b.u[i] : b.z[i];
        if (m->attn != ATT_NONE) {
            float *dr = b.d[!cur];
            memset(dr, 0, a * sizeof(float));
            if (m->attn == ATT_SE)
                tr_se_backward(dr, G + s->w1, G + s->b1, G + s->w2, G + s->b2, b.d[cur], r, b.cache[i], P + s->w1,
                               P + s->w2, b.att_scr, n, s->Co, HW, s->Cr);
            else
                tr_cbam_backward(dr, G + s->w1, G + s->b1, G + s->w2, G + s->b2, G + s->ws, G + s->bs, b.d[cur], r,
                                 b.cache[i], b.icache[i], P + s->w1, P + s->w2, P + s->ws, b.att_scr, n, s->Co,
                                 s->Ho, s->Wo, s->Cr);
            cur = !cur;
        }
        float *d = b.d[cur]; /* ReLU: r > 0 passes */
        for (size_t j = 0; j < a; j++)
            d[j] = r[j] > 0.0f ? d[j] : 0.0f;
        if (m->norm) {
            float *dz = b.d[!cur];
            memset(dz, 0, a * sizeof(float));
            tr_batchnorm_backward(dz, G + s->gamma, G + s->beta, b.d[cur], b.z[i], b.mean[i], b.var[i],
                                  P + s->gamma, m->eps, n, s->Co, HW);
            cur = !cur;
        }
        const float *x = i ? stage_out(m, &b, i - 1) : batch->input;
        float *dx = NULL;
        if (i) {
            dx = b.d[!cur];
            memset(dx, 0, (size_t)n * s->Ci * s->Hi * s->Wi * sizeof(float));
        }
        tr_conv2d_backward(dx, G + s->w, G + s->b, b.d[cur], x, P + s->w, b.conv_scr, n, s->Ci, s->Hi, s->Wi, s->Co,
                           K, s->S, 1);
        cur = !cur;
    }
    return TR_OK;
}

static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch,
                         tr_prediction *out, tr_error *err)
{
    if (check_batch(batch, err))
        return err->status;
    const int n = batch->n, C = m->classes;
    bufs b = layout(m, n, scratch);
    forward(m, P, NULL, &b, batch->input, n, 0);
    if (out->tokens)
        tr_argmax_rows(out->tokens, 1, b.logits, n, C);
    float **maps = out->size >= offsetof(tr_prediction, maps) + sizeof out->maps ? out->maps : NULL;
    for (int i = 0, k = 0; maps && i < STAGES && m->attn != ATT_NONE; i++) {
        const stage *s = &m->st[i];
        const float *ch = m->attn == ATT_SE ? tr_se_channel_weights(b.cache[i]) : tr_cbam_channel_weights(b.cache[i]);
        if (maps[k])
            memcpy(maps[k], ch, (size_t)n * s->Co * sizeof(float));
        k++;
        if (m->attn == ATT_CBAM) {
            if (maps[k])
                memcpy(maps[k], tr_cbam_spatial_weights(b.cache[i], n, s->Co),
                       (size_t)n * s->Ho * s->Wo * sizeof(float));
            k++;
        }
    }
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
    {"attention", TR_OPT_ENUM, "cbam", "none|se|cbam", "attention after each convolution block"},
    {"norm", TR_OPT_ENUM, "none", "none|batch", "batch normalisation after each convolution"},
    {"reduction", TR_OPT_INT, "8", "[1, 32]", "channel reduction of the attention MLPs (C -> C/r; 32: block 1)"},
    {"bn_momentum", TR_OPT_FLOAT, "0.1", "(0, 1]", "running statistics' update rate (PyTorch's momentum)"},
    {"bn_eps", TR_OPT_FLOAT, "1e-5", "(0,)", "batch norm epsilon"},
    {"label_smoothing", TR_OPT_FLOAT, "0", "[0, 1)", "share of the target spread over all classes (PyTorch's)"},
};

static const char *const map_names[STAGES][2] = {
    {"block1/channel", "block1/spatial"}, {"block2/channel", "block2/spatial"}, {"block3/channel", "block3/spatial"}};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (info->size < offsetof(tr_model_info, in_width) + sizeof info->in_width || info->in_channels < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "cnn_attn trains on images: set data.kind: idx_images");
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    m->attn = (int)o[0].i;
    m->norm = (int)o[1].i;
    m->eps = (float)o[4].f;
    m->smoothing = (float)o[5].f;
    m->classes = info->tgt_vocab;
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, zeros = {TR_INIT_ZEROS, 0, 0},
                  ones = {TR_INIT_CONST, 1, 0};
    tr_status s = TR_OK;
    char name[TR_MAX_NAME];
    int C = info->in_channels, H = info->in_height, W = info->in_width;
#define ADD(fmt, nd, shape, init, off)                                    \
    do {                                                                  \
        snprintf(name, sizeof name, fmt, i + 1);                          \
        if (!s) s = tr_param_add(reg, name, nd, shape, init, off, err);  \
    } while (0)
    for (int i = 0; i < STAGES && !s; i++) {
        stage *t = &m->st[i];
        t->Ci = C; t->Hi = H; t->Wi = W; t->Co = widths[i]; t->S = strides[i];
        t->Ho = tr_conv2d_out(H, K, t->S, 1);
        t->Wo = tr_conv2d_out(W, K, t->S, 1);
        t->Cr = t->Co / (int)o[2].i;
        if (t->Ho < 1 || t->Wo < 1) {
            free(m);
            return tr_error_set(err, TR_ERR_CONFIG, "images of %dx%d are too small for 3 convolutions", info->in_height,
                                info->in_width);
        }
        ADD("block%d.conv.kernel", 4, ((int[]){t->Co, t->Ci, K, K}), glorot, &t->w);
        ADD("block%d.conv.bias", 1, ((int[]){t->Co}), zeros, &t->b);
        if (m->norm) {
            ADD("block%d.bn.gamma", 1, ((int[]){t->Co}), ones, &t->gamma);
            ADD("block%d.bn.beta", 1, ((int[]){t->Co}), zeros, &t->beta);
            snprintf(name, sizeof name, "block%d.bn.running_mean", i + 1);
            if (!s) s = tr_param_add_running(reg, name, 1, (int[]){t->Co}, zeros, (float)o[3].f, &t->rmean, err);
            snprintf(name, sizeof name, "block%d.bn.running_var", i + 1);
            if (!s) s = tr_param_add_running(reg, name, 1, (int[]){t->Co}, ones, (float)o[3].f, &t->rvar, err);
        }
        if (m->attn != ATT_NONE) {
            snprintf(name, sizeof name, "block%d.attention.fc1", i + 1); /* Glorot kernels, zero biases */
            if (!s) s = tr_param_add_dense(reg, name, t->Co, t->Cr, &t->w1, &t->b1, err);
            snprintf(name, sizeof name, "block%d.attention.fc2", i + 1);
            if (!s) s = tr_param_add_dense(reg, name, t->Cr, t->Co, &t->w2, &t->b2, err);
            m->maps[m->n_maps++] = (tr_map_spec){map_names[i][0], 1, {t->Co}, "sample,channel"};
        }
        if (m->attn == ATT_CBAM) {
            ADD("block%d.attention.spatial.kernel", 4, ((int[]){1, 2, TR_CBAM_KERNEL, TR_CBAM_KERNEL}), glorot, &t->ws);
            ADD("block%d.attention.spatial.bias", 1, ((int[]){1}), zeros, &t->bs);
            m->maps[m->n_maps++] = (tr_map_spec){map_names[i][1], 2, {t->Ho, t->Wo}, "sample,y,x"};
        }
        C = t->Co; H = t->Ho; W = t->Wo;
    }
#undef ADD
    if (!s) s = tr_param_add_dense(reg, "output", C, m->classes, &m->fc_w, &m->fc_b, err);
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
    .name = "cnn_attn",
    .version = "1.1.0",
    .description = "3-block CNN with SE or CBAM attention (and optional batch norm) for image classes",
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

/* test_luong_attn.c - the template's own unit tests, written against the
 * installed headers and libtrainer only (copy them with the template):
 *
 *   1. the whole model's gradient against central differences, from the
 *      config and real samples (tr_gradcheck: what `trainer gradcheck` runs);
 *   2. create() on a registry of its own and one train() call on made-up
 *      pairs, no config or data files: a finite loss, and a gradient in
 *      every tensor.
 *
 * usage: test_luong_attn CONFIG PLUGIN.so DATA_DIR   (DATA_DIR holds the
 * time data: time_dataset.json, time_vocabs.json; exit 77 without it) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

const tr_plugin *tr_plugin_entry(void); /* luong_attn.c, linked in */

static int gradients(const char *config, const char *plugin, const char *data)
{
    char so[1024], pairs[1024], vocabs[1024];
    snprintf(so, sizeof so, "model.plugin=%s", plugin);
    snprintf(pairs, sizeof pairs, "data.pairs=%s/time_dataset.json", data);
    snprintf(vocabs, sizeof vocabs, "data.vocabs=%s/time_vocabs.json", data);
    char *ov[] = {so, pairs, vocabs, "model.hidden_units=8", "model.attentional_units=16", "data.src_len=12"};
    tr_gradcheck_opts o = {.size = sizeof o, .samples = 4};
    tr_error err = {0};
    int bad = tr_gradcheck(config, 6, ov, &o, stdout, &err);
    if (bad < 0)
        fprintf(stderr, "gradcheck: %s\n", err.msg);
    return bad == 0;
}

static int one_step(void)
{
    const tr_plugin *P = tr_plugin_entry();
    /* the options in the descriptor's order: hidden, attentional, scorer, its units */
    const tr_option_value opt[4] = {{.i = 8}, {.i = 16}, {.s = "general"}, {.i = 4}};
    const tr_model_info info = {.size = sizeof info, .src_len = 6, .tgt_len = 3, .src_vocab = 10, .tgt_vocab = 7,
                                .src_pad = 0, .tgt_pad = 0, .max_batch = 2, .options = opt, .tgt_bos = -1,
                                .tgt_eos = -1};
    tr_registry *reg = tr_registry_new();
    tr_model *m = NULL;
    tr_error err = {0};
    if (!reg || P->create(&m, reg, &info, &err)) {
        fprintf(stderr, "create: %s\n", err.msg);
        tr_registry_delete(reg);
        return 0;
    }
    const size_t n = tr_registry_size(reg);
    float *params = malloc(n * sizeof *params), *grads = calloc(n, sizeof *grads);
    void *scratch = malloc(P->scratch_bytes(m, 2));
    int ok = params && grads && scratch && !tr_registry_init_params(reg, params, 1, &err);
    const int32_t src[12] = {3, 4, 5, 0, 0, 0, 7, 8, 9, 2, 0, 0}, tgt[6] = {1, 2, 0, 4, 5, 6};
    const tr_batch b = {.size = sizeof b, .n = 2, .src = src, .tgt = tgt};
    double loss = 0;
    ok = ok && !P->train(m, params, grads, scratch, &b, &loss, &err) && isfinite(loss) && loss > 0;
    static const char *const names[] = {"encoder.kernel", "decoder.recurrent_kernel", "combine.kernel", "output.bias"};
    for (int t = 0; ok && t < 4; t++) {
        size_t off, count;
        double sum = 0;
        ok = tr_registry_lookup(reg, names[t], &off, &count);
        for (size_t i = 0; ok && i < count; i++)
            sum += fabs(grads[off + i]);
        if (ok && !(sum > 0))
            fprintf(stderr, "one step: no gradient in %s\n", names[t]), ok = 0;
    }
    printf("one step on a registry of its own: %zu floats, loss %.4f: %s\n", n, loss, ok ? "ok" : "FAIL");
    free(params);
    free(grads);
    free(scratch);
    P->destroy(m);
    tr_registry_delete(reg);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_luong_attn CONFIG PLUGIN.so DATA_DIR\n");
        return 2;
    }
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/time_dataset.json", argv[3]);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("skipped: no time data in %s (data/prepare.sh in the trainer's checkout)\n", argv[3]);
        return 77;
    }
    fclose(f);
    const int ok = one_step() & gradients(argv[1], argv[2], argv[3]);
    return ok ? 0 : 1;
}

/* core/cli.c - `trainer CONFIG`, `trainer predict`, `trainer plugins`. */
#define _GNU_SOURCE
#include "trainer/trainer.h"
#include "blas_cpu.h"
#include "comm.h"
#include "png_input.h"
#include "session.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <omp.h>
#include <sched.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *usage =
    "usage: trainer CONFIG.yaml [--fresh] [section.key=value ...]  train, resuming from the run's checkpoint\n"
    "       trainer predict CONFIG.yaml [--attention] [section.key=value ...] TEXT|-\n"
    "       trainer predict CONFIG.yaml [--attention] IMAGE.png|INDEX|-  (image models)\n"
    "       trainer plugins [CONFIG.yaml]                          list the plugins found\n"
    "       trainer inspect CHECKPOINT.h5                          what a checkpoint holds\n"
    "       trainer --version | --help\n";

static int fail(const tr_error *e)
{
    fprintf(stderr, "trainer: %s\n", e->msg);
    return tr_status_exit_code(e->status);
}

/* A config that cannot be read is a usage error (exit 2) like a bad one. */
static int fail_config(const tr_error *e)
{
    fprintf(stderr, "trainer: %s\n", e->msg);
    return 2;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "trainer: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see trainer --help)\n");
    return 2;
}

/* "section.key=value": a config override, not a text to predict. */
static int is_override(const char *a)
{
    const char *eq = strchr(a, '=');
    if (!eq || eq == a)
        return 0;
    int dot = 0;
    for (const char *p = a; p < eq; p++) {
        if (*p == '.') dot = 1;
        else if (!isalnum((unsigned char)*p) && *p != '_') return 0;
    }
    return dot;
}


static char *run_file(const tr_config *c, const char *name)
{
    size_t n = strlen(c->run_out) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", c->run_out, name);
    return p;
}

/* After work that may fail on some ranks only: 0 when every rank succeeded;
 * otherwise the lowest failing rank prints its one line and every rank
 * returns that rank's exit status. */
static int agree(const tr_comm *c, int rc, const tr_error *e)
{
    int fr = tr_comm_first_failure(c, rc != 0);
    if (fr < 0)
        return 0;
    if (c->rank == fr) {
        if (c->size > 1)
            fprintf(stderr, "trainer: rank %d: %s\n", c->rank, e->msg);
        else
            fprintf(stderr, "trainer: %s\n", e->msg);
    }
    return tr_comm_bcast_int(c, rc, fr);
}

/* A failure every rank already knows about (s->report_rank says who prints). */
static int report(const tr_session *s, tr_status st, const tr_error *e)
{
    if (s->comm.rank == (s->report_rank >= 0 ? s->report_rank : 0)) {
        if (s->comm.size > 1)
            fprintf(stderr, "trainer: rank %d: %s\n", s->comm.rank, e->msg);
        else
            fprintf(stderr, "trainer: %s\n", e->msg);
    }
    return tr_status_exit_code(st);
}


/* metrics.csv: fresh, or (resuming) the rows up to the checkpoint's step,
 * so a resumed run's file reads like an uninterrupted one. */
static FILE *open_metrics(const char *path, long keep_until_step, int fresh)
{
    static const char *header = "step,epoch,loss,lr,grad_norm,samples_per_s,exact_match,token_accuracy,bleu";
    char *kept = NULL;
    size_t len = 0;
    FILE *old = fresh ? NULL : fopen(path, "r");
    if (old) {
        FILE *mem = open_memstream(&kept, &len);
        char line[1024];
        while (mem && fgets(line, sizeof line, old))
            if (isdigit((unsigned char)line[0]) && atol(line) <= keep_until_step)
                fputs(line, mem);
        if (mem)
            fclose(mem);
        fclose(old);
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", header);
        if (kept)
            fputs(kept, f);
        fflush(f);
    }
    free(kept);
    return f;
}

static void on_stop_signal(int sig) { tr_stop_signal = sig; }

/* The eval line (epoch < 0: the final one) and its metrics.csv row. */
static void print_eval(const tr_session *s, const tr_eval *ev, long epoch)
{
    const tr_config *c = s->cfg;
    char bleu[160] = "";
    if (ev->has_forced) {
        size_t l = strlen(bleu);
        snprintf(bleu + l, sizeof bleu - l, "  token-accuracy (teacher forced) %.4f", ev->forced_acc);
    }
    if (ev->has_bleu) {
        size_t l = strlen(bleu);
        snprintf(bleu + l, sizeof bleu - l, "  bleu-4 %.4f (%ld sentences)", ev->bleu,
                 c->bleu_samples < c->test_size ? c->bleu_samples : c->test_size);
    }
    if (s->input_size) { /* image classes: one label per sample */
        char ep[32] = "";
        if (epoch >= 0)
            snprintf(ep, sizeof ep, "epoch %ld  ", epoch);
        printf("eval: %stest accuracy %.4f  on %ld held-out images\n", ep, ev->exact, c->test_size);
    } else if (epoch >= 0)
        printf("eval: epoch %ld  exact-match %.4f  token-accuracy %.4f%s  on %ld held-out\n", epoch, ev->exact,
               ev->token_acc, bleu, c->test_size);
    else
        printf("eval: exact-match %.4f  token-accuracy %.4f%s  on %ld held-out\n", ev->exact, ev->token_acc, bleu,
               c->test_size);
    fflush(stdout);
    if (s->metrics) {
        long spe = tr_session_steps_per_epoch(s);
        fprintf(s->metrics, "%ld,%ld,,,,,%.6f,%.6f", s->step, s->step / spe, ev->exact, ev->token_acc);
        if (ev->has_bleu)
            fprintf(s->metrics, ",%.6f\n", ev->bleu);
        else
            fputs(",\n", s->metrics);
        fflush(s->metrics);
    }
}

static int train_session(tr_session *s, int fresh)
{
    const tr_config *c = s->cfg;
    const tr_plugin *P = s->plugin.desc;
    const int root = s->comm.rank == 0;
    FILE *log = root ? stdout : NULL;
    tr_error err = {0};
    char *ck = run_file(c, "checkpoint.h5"), *mpath = run_file(c, "metrics.csv"), *apath = run_file(c, "attention.h5");
    int rc = 0;
    /* Resume unless told not to: every rank reads the checkpoint. */
    int have = !fresh && access(ck, F_OK) == 0;
    tr_status st = have ? tr_checkpoint_load(s, ck, 1, &err) : TR_OK;
    if ((rc = agree(&s->comm, tr_status_exit_code(st), &err)))
        goto done;
    if (root && tr_mkdirs(c->run_out)) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot create the run folder: %s", c->run_out, strerror(errno));
        rc = 1;
    }
    if (root && !rc && !(s->metrics = open_metrics(mpath, s->step, !have))) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot write: %s", mpath, strerror(errno));
        rc = 1;
    }
    if ((rc = agree(&s->comm, rc, &err)))
        goto done;
    s->ckpt_path = ck;
    long spe = tr_session_steps_per_epoch(s);
    long total = spe * c->epochs;
    if (root) {
        size_t nparams = 0;
        for (int i = 0; i < s->reg.n; i++)
            nparams += s->reg.tensors[i].count;
        int shards = s->max_shards, R = s->comm.size;
        printf("model: %s %s (%s), %zu parameters in %d tensors\n", P->name, P->version, s->plugin.path, nparams, s->reg.n);
        if (s->input_size)
            printf("data: %ld train / %ld held-out images (%dx%dx%d) from %s, %d classes\n", c->train_size,
                   c->test_size, s->pairs.channels, s->pairs.height, s->pairs.width, c->data_dir, s->vocabs.tgt.n);
        else
            printf("data: %ld train / %ld held-out pairs from %s, src_len %ld, tgt_len %ld, vocabularies %d / %d\n",
                   c->train_size, c->test_size, c->data_kind == TR_DATA_WORD_PAIRS ? c->source : c->pairs, c->src_len,
                   c->tgt_len, s->vocabs.src.n, s->vocabs.tgt.n);
        printf("layout: %d rank%s x %d thread%s; batch %ld in micro-shards of %d; %ld steps/epoch x %ld epochs\n", R,
               R > 1 ? "s" : "", s->threads, s->threads > 1 ? "s" : "", c->batch, s->micro, spe, c->epochs);
        long most = (long)((shards + R - 1) / R) * s->micro;
        printf("layout: %d micro-shard%s per step, %d-%d per rank (up to %ld samples per rank per step)%s\n", shards,
               shards > 1 ? "s" : "", shards / R, (shards + R - 1) / R, most < c->batch ? most : c->batch,
               shards < R ? "; some ranks idle: more ranks than micro-shards" : "");
        if (have)
            printf("resumed from %s at step %ld (epoch %ld)%s\n", ck, s->step, s->step / spe,
                   s->step >= total ? ": training already complete" : "");
        fflush(stdout);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    long chunk = c->eval_every > 0 ? c->eval_every * spe : -1;
    tr_eval ev;
    int final_eval = c->test_size > 0;
    while (s->step < total) {
        if ((st = tr_session_train(s, chunk, log, &err))) {
            rc = st == TR_ERR_INTERRUPTED ? 128 + s->stop : tr_status_exit_code(st); /* as if killed by it */
            report(s, st, &err);
            goto done;
        }
        if (s->step < total && c->test_size > 0) {
            if ((st = tr_session_evaluate(s, &ev, &err))) {
                rc = report(s, st, &err);
                goto done;
            }
            if (root) {
                print_eval(s, &ev, s->step / spe);
                if (tr_attention_write(s, apath, &ev, &err))
                    fprintf(stderr, "trainer: warning: %s\n", err.msg);
            }
        }
    }
    if (s->saved_step != s->step) { /* resumed at the end, or no steps ran */
        st = root ? tr_checkpoint_save(s, ck, &err) : TR_OK;
        if ((rc = agree(&s->comm, tr_status_exit_code(st), &err)))
            goto done;
        s->saved_step = s->step;
    }
    if (root) {
        struct stat sb;
        printf("saved %s (step %ld", ck, s->step);
        if (s->saved_step == s->step && stat(ck, &sb) == 0)
            printf(", %.2f MB written in %.1f ms", sb.st_size / 1e6, 1e3 * s->save_seconds);
        printf(")\n");
    }
    if (final_eval) {
        if ((st = tr_session_evaluate(s, &ev, &err))) {
            rc = report(s, st, &err);
            goto done;
        }
        if (root) {
            print_eval(s, &ev, -1);
            if (tr_attention_write(s, apath, &ev, &err))
                fprintf(stderr, "trainer: warning: %s\n", err.msg);
            else if (c->attention_samples > 0)
                printf("attention maps: %s\n", apath);
        }
    }
done:
    if (s->metrics)
        fclose(s->metrics);
    s->metrics = NULL;
    s->ckpt_path = NULL;
    free(ck);
    free(mpath);
    free(apath);
    return rc;
}

/* Without OMP_NUM_THREADS, share this machine's cores among its ranks
 * (a rank bound to some cores keeps to those), so that `mpirun -n 4
 * trainer ...` does not start 4 x cores threads. */
static void choose_threads(const tr_comm *c)
{
    if (getenv("OMP_NUM_THREADS") || c->size < 2)
        return;
    cpu_set_t set;
    int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int local = tr_comm_local_size(c);
    int t = mine < online ? mine : (int)(online / local);
    omp_set_num_threads(t > 0 ? t : 1);
}

static int cmd_train(int argc, char **argv)
{
    tr_error err = {0};
    tr_comm comm;
    if (tr_comm_init(&comm, NULL, NULL, &err))
        return fail(&err);
    choose_threads(&comm);
    int rc = 0;
    const char *path = NULL;
    int fresh = 0, nov = 0;
    char **ov = calloc((size_t)argc + 1, sizeof *ov);
    if (!ov)
        return 1;
    for (int i = 0; i < argc && !rc; i++) {
        if (strcmp(argv[i], "--fresh") == 0)
            fresh = 1;
        else if (is_override(argv[i]))
            ov[nov++] = argv[i];
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            snprintf(err.msg, sizeof err.msg, "unexpected argument '%s' (overrides look like section.key=value) (see trainer --help)", argv[i]);
            rc = 2;
        }
    }
    if (!rc && !path) {
        snprintf(err.msg, sizeof err.msg, "no config given (see trainer --help)");
        rc = 2;
    }
    tr_config *cfg = NULL;
    if (!rc && tr_config_load(&cfg, path, nov, ov, &err))
        rc = 2;
    free(ov);
    tr_session *s = NULL;
    tr_status st = TR_OK;
    if (!rc && (st = tr_session_open(&s, cfg, 1, &err)))
        rc = tr_status_exit_code(st);
    rc = agree(&comm, rc, &err);
    if (!rc)
        rc = train_session(s, fresh);
    tr_session_close(s);
    tr_comm_finalize(&comm);
    return rc;
}

/* Prints the attention of each output token over the input tokens: one
 * row per output token (up to </s>), one column per input token
 * (characters, or words for word-level models), weights in percent; the
 * last column sums the weight on padding. */
static void print_attention(const tr_session *s, const char *text, const int32_t *src,
                            const int32_t *out, const float *attn)
{
    const int Tx = (int)s->cfg->src_len, Ty = (int)s->cfg->tgt_len;
    const tr_vocab *sv = &s->vocabs.src, *tv = &s->vocabs.tgt;
    int len = 0;
    while (len < Tx && src[len] != sv->pad)
        len++;
    /* column labels: the input's own characters (case kept), or the words
     * as the vocabulary knows them */
    char label[64][32];
    int width = 4;
    for (int t = 0; t < len && t < 64; t++) {
        if (sv->words)
            snprintf(label[t], sizeof label[t], "%s", sv->tokens[src[t]]);
        else
            snprintf(label[t], sizeof label[t], "%c", t < (int)strlen(text) ? (text[t] == ' ' ? '_' : text[t]) : '?');
        int w = (int)strlen(label[t]) + 1;
        width = w > width ? w : width;
    }
    int ocol = 6;
    for (int y = 0; y < Ty; y++) {
        int w = (int)strlen(tv->tokens[out[y]]) + 1;
        ocol = w > ocol ? w : ocol;
    }
    printf("%*s", ocol, "");
    for (int t = 0; t < len && t < 64; t++)
        printf("%*s", width, label[t]);
    printf("%*s\n", width, "pad");
    for (int y = 0; y < Ty; y++) {
        if (tv->words && (out[y] == tv->pad || out[y] == tv->eos))
            break;
        printf("%*s", ocol, tv->tokens[out[y]]);
        double pad = 0;
        for (int t = 0; t < Tx; t++) {
            double w = attn[(size_t)y * Tx + t];
            if (t < len && t < 64) printf("%*.0f", width, 100 * w);
            else pad += w;
        }
        printf("%*.0f\n", width, 100 * pad);
    }
}

/* An image model's maps for one sample: channel weights as their five
 * largest, spatial maps as a grid of shades. */
static void print_maps(const tr_session *s, float *const *maps)
{
    static const char shades[] = " .:-=+*#%@";
    for (int k = 0; k < s->n_maps; k++) {
        const tr_map_spec *m = &s->map_specs[k];
        const float *v = maps[k];
        if (m->ndim == 1) {
            int top[5] = {-1, -1, -1, -1, -1}, nt = m->shape[0] < 5 ? m->shape[0] : 5;
            for (int j = 0; j < nt; j++)
                for (int i = 0; i < m->shape[0]; i++) {
                    int used = 0;
                    for (int q = 0; q < j; q++) used |= top[q] == i;
                    if (!used && (top[j] < 0 || v[i] > v[top[j]])) top[j] = i;
                }
            printf("%s [%d]: largest", m->name, m->shape[0]);
            for (int j = 0; j < nt; j++)
                printf(" %d:%.2f", top[j], v[top[j]]);
            printf("\n");
        } else if (m->ndim == 2) {
            float lo = v[0], hi = v[0];
            size_t n = (size_t)m->shape[0] * m->shape[1];
            for (size_t i = 0; i < n; i++) { lo = v[i] < lo ? v[i] : lo; hi = v[i] > hi ? v[i] : hi; }
            printf("%s [%dx%d]: %.2f (' ') .. %.2f ('@')\n", m->name, m->shape[0], m->shape[1], lo, hi);
            for (int y = 0; y < m->shape[0]; y++) {
                printf("  ");
                for (int x = 0; x < m->shape[1]; x++) {
                    float t = hi > lo ? (v[(size_t)y * m->shape[1] + x] - lo) / (hi - lo) : 0.0f;
                    putchar(shades[(int)(t * 9.0f + 0.5f)]);
                }
                printf("\n");
            }
        }
    }
}

/* `predict` for image models: each input is a PNG file of the model's size
 * or the index of a held-out image (0 .. data.test-1). */
static int predict_image(tr_session *s, const char *what, int attention, uint8_t *px, float **maps, tr_error *err)
{
    const tr_pairs *p = &s->pairs;
    const long first = p->n - s->cfg->test_size;
    char *end = NULL;
    long idx = strtol(what, &end, 10);
    int is_index = *what && end && !*end;
    if (is_index) {
        if (idx < 0 || idx >= s->cfg->test_size)
            return tr_error_set(err, TR_ERR_CONFIG, "image index %ld: the held-out set has %ld images (data.test)", idx,
                                s->cfg->test_size), fail(err);
        memcpy(px, tr_session_pixels(s, first + idx), s->input_size);
    } else if (tr_png_read_gray(px, what, p->height, p->width, err)) {
        return fail(err);
    }
    int32_t cls = 0;
    if (tr_session_predict_ex(s, NULL, px, 1, &cls, NULL, attention ? maps : NULL, err))
        return fail(err);
    const tr_vocab *tv = &s->vocabs.tgt;
    if (is_index) {
        int32_t label = p->tgt[first + idx];
        printf("%s (label: %s)\n", tv->tokens[cls], tv->tokens[label]);
    } else
        printf("%s\n", tv->tokens[cls]);
    if (attention)
        print_maps(s, maps);
    return 0;
}

static int cmd_predict(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("%s", "predict needs a config and a text (or - for stdin)");
    const char *path = argv[0];
    const char *text = NULL;
    int attention = 0, nov = 0;
    char **ov = calloc((size_t)argc, sizeof *ov);
    if (!ov)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--attention") == 0) attention = 1;
        else if (is_override(argv[i])) ov[nov++] = argv[i];
        else if (!text) text = argv[i];
        else { free(ov); return usage_error("predict takes one text; got another: '%s' (quote the text)", argv[i]); }
    }
    if (!text) {
        free(ov);
        return usage_error("%s", "predict needs a text to translate, or - to read lines from stdin");
    }
    tr_error err = {0};
    tr_config *cfg = NULL;
    tr_status st = tr_config_load(&cfg, path, nov, ov, &err);
    free(ov);
    if (st)
        return fail_config(&err);
    tr_session *s = NULL;
    if (tr_session_open(&s, cfg, 0, &err))
        return fail(&err);
    char *ck = run_file(s->cfg, "checkpoint.h5");
    if (tr_checkpoint_load(s, ck, 0, &err)) {
        free(ck);
        tr_session_close(s);
        return fail(&err);
    }
    free(ck);
    const int Tx = (int)s->cfg->src_len, Ty = (int)s->cfg->tgt_len;
    int rc = 0;
    if (s->input_size) {
        uint8_t *px = malloc(s->input_size);
        float *maps[TR_MAX_MAPS] = {0};
        for (int k = 0; k < s->n_maps; k++)
            if (!(maps[k] = malloc(tr_session_map_size(s, k) * sizeof(float)))) px = (free(px), NULL);
        if (!px) rc = 1;
        else if (strcmp(text, "-") != 0)
            rc = predict_image(s, text, attention, px, maps, &err);
        else {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                    line[--len] = 0;
                if (len > 0)
                    rc = predict_image(s, line, attention, px, maps, &err);
            }
            free(line);
        }
        free(px);
        for (int k = 0; k < s->n_maps; k++)
            free(maps[k]);
    } else if (strcmp(text, "-") != 0) {
        int32_t *src = malloc((size_t)Tx * sizeof *src), *out = malloc((size_t)Ty * sizeof *out);
        float *attn = malloc((size_t)Tx * Ty * sizeof *attn);
        char buf[4096];
        if (!src || !out || !attn) rc = 1;
        else {
            tr_encode_source(src, text, &s->vocabs, Tx, s->cfg->lowercase);
            if (tr_session_predict(s, src, 1, out, attn, &err)) rc = fail(&err);
            else {
                tr_decode_target(buf, sizeof buf, out, Ty, &s->vocabs);
                printf("%s\n", buf);
                if (attention) print_attention(s, text, src, out, attn);
            }
        }
        free(src); free(out); free(attn);
    } else {
        /* Lines from stdin, predicted in blocks so the threads have work. */
        enum { BLOCK = 4096 };
        int32_t *src = malloc((size_t)BLOCK * Tx * sizeof *src), *out = malloc((size_t)BLOCK * Ty * sizeof *out);
        char *line = NULL, buf[4096];
        size_t cap = 0;
        if (!src || !out) rc = 1;
        while (!rc) {
            int n = 0;
            ssize_t len;
            while (n < BLOCK && (len = getline(&line, &cap, stdin)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                    line[--len] = 0;
                tr_encode_source(src + (size_t)n * Tx, line, &s->vocabs, Tx, s->cfg->lowercase);
                n++;
            }
            if (n == 0) break;
            if (tr_session_predict(s, src, n, out, NULL, &err)) { rc = fail(&err); break; }
            for (int i = 0; i < n; i++) {
                tr_decode_target(buf, sizeof buf, out + (size_t)i * Ty, Ty, &s->vocabs);
                puts(buf);
            }
            if (n < BLOCK) break;
        }
        free(line); free(src); free(out);
    }
    tr_session_close(s);
    return rc;
}

static void list_one(void *ctx, const char *path, const tr_plugin *d, const char *scorers, const tr_error *e)
{
    int *count = ctx;
    if (d) {
        printf("%-16s %-8s ABI %-3d %s\n", d->name, d->version, d->abi_version, path);
        if (d->description && *d->description)
            printf("%-16s %s\n", "", d->description);
        if (scorers)
            printf("%-16s attention scorers: %s\n", "", scorers);
        (*count)++;
    } else if (!e) { /* a library of attention scorers only */
        printf("%-16s %-8s ABI %-3d %s\n", "(scorers)", "-", TR_ABI_VERSION, path);
        printf("%-16s attention scorers: %s\n", "", scorers ? scorers : "");
        (*count)++;
    } else {
        printf("%-16s %s\n", "(not loadable)", e->msg);
    }
}

static int cmd_plugins(int argc, char **argv)
{
    char *dir = NULL;
    if (argc > 0) {
        const char *slash = strrchr(argv[0], '/');
        dir = slash ? strndup(argv[0], (size_t)(slash - argv[0])) : strdup(".");
    }
    const char *dirs[32];
    char storage[8192];
    int nd = tr_plugin_search_dirs(dirs, 32, storage, sizeof storage, dir);
    printf("search path:");
    for (int i = 0; i < nd; i++)
        printf(" %s", dirs[i]);
    printf("\n");
    int count = 0;
    tr_plugin_scan(dir, list_one, &count);
    if (count == 0)
        printf("no plugins found\n");
    free(dir);
    return 0;
}

int tr_main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "no config given");
    tr_blas_fix_coretype(argv);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("trainer %s (plugin ABI %d)\n", TR_VERSION, TR_ABI_VERSION);
        return 0;
    }
    if (strcmp(cmd, "plugins") == 0)
        return cmd_plugins(argc - 2, argv + 2);
    if (strcmp(cmd, "inspect") == 0) {
        if (argc != 3)
            return usage_error("%s", "inspect takes one checkpoint file");
        tr_error err = {0};
        return tr_checkpoint_inspect(argv[2], stdout, &err) ? fail(&err) : 0;
    }
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) {
        if (argc < 3)
            return usage_error("%s", "train needs a config");
        return cmd_train(argc - 2, argv + 2);
    }
    if (cmd[0] == '-')
        return usage_error("unknown option '%s'", cmd);
    return cmd_train(argc - 1, argv + 1);
}

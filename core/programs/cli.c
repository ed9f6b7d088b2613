/* core/programs/cli.c - `trainer CONFIG`, `trainer predict`, `trainer plugins`. */
#define _GNU_SOURCE
#include "trainer/trainer.h"
#include "programs/blas_cpu.h"
#include "runtime/comm.h"
#include "data/png_input.h"
#include "programs/png_output.h"
#include "runtime/session.h"
#include "runtime/checkpoint.h"
#include "programs/attention_file.h"
#include "base/fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
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
    "       trainer predict CONFIG.yaml [--attention [--head H]] [--checkpoint best|last] [section.key=value ...] TEXT|-\n"
    "       trainer predict CONFIG.yaml [--attention] IMAGE.png|INDEX|-  (image models)\n"
    "       trainer eval CONFIG.yaml [--split test|train] [--out FILE.tsv] [--checkpoint best|last] [section.key=value ...]\n"
    "                                                              one row per sample: index, input, target, prediction\n"
    "       trainer gradcheck CONFIG.yaml [--samples N] [--entries K] [--tensors a,b] [--checkpoint FILE.h5]\n"
    "                         [--step H] [--tolerance T] [section.key=value ...]\n"
    "                                                              the plugin's gradient against central differences\n"
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
    /* columns are only ever appended (readers go by name) */
    static const char *header = "step,epoch,loss,lr,grad_norm,samples_per_s,exact_match,token_accuracy,bleu,macro_f1,"
                                "skipped_steps";
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
    /* the rows kept go to a new file that replaces the old one: a kill
     * while it is written leaves the old file, never a truncated one */
    size_t plen = strlen(path) + 5;
    char *tmp = malloc(plen);
    FILE *f = tmp ? fopen((snprintf(tmp, plen, "%s.tmp", path), tmp), "w") : NULL;
    int bad = !f;
    if (f) {
        fprintf(f, "%s\n", header);
        if (kept)
            fputs(kept, f);
        bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
        bad |= fclose(f) != 0;
    }
    if (!bad && rename(tmp, path) != 0)
        bad = 1;
    if (bad && tmp) {
        const int e = errno;
        unlink(tmp);
        errno = e;
    }
    free(tmp);
    free(kept);
    return bad ? NULL : fopen(path, "a");
}

/* Whether metrics.csv holds an evaluation row (step, epoch, no loss) for step. */
static int evaluated_at(const char *path, long step)
{
    FILE *f = fopen(path, "r");
    char line[1024], pre[32];
    int n = snprintf(pre, sizeof pre, "%ld,", step), found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        const char *p = strncmp(line, pre, (size_t)n) == 0 ? strchr(line + n, ',') : NULL;
        found = p && p[1] == ',';
    }
    if (f)
        fclose(f);
    return found;
}

static void on_stop_signal(int sig) { tr_stop_signal = sig; }

/* A classifier's final evaluation: per-class precision, recall, F1 and
 * support, then the confusion matrix (rows: true class, columns: predicted). */
static void print_classes(const tr_session *s, const tr_eval *ev)
{
    const int C = ev->classes;
    const tr_vocab *tv = &s->vocabs.tgt;
    int w = 5;
    for (int k = 0; k < C; k++)
        w = (int)strlen(tv->tokens[k]) > w ? (int)strlen(tv->tokens[k]) : w;
    w = w > 24 ? 24 : w;
    printf("  %-*.*s  precision  recall      f1  support\n", w, w, "class");
    for (int k = 0; k < C; k++) {
        double pr, rc, f1;
        long support = 0;
        for (int j = 0; j < C; j++)
            support += ev->confusion[(size_t)k * C + j];
        tr_class_scores(ev->confusion, C, k, &pr, &rc, &f1);
        printf("  %-*.*s  %9.4f  %6.4f  %6.4f  %7ld\n", w, w, tv->tokens[k], pr, rc, f1, support);
    }
    if (C > 20) /* a matrix that wide is for attention.h5 readers, not a terminal */
        return;
    printf("  confusion (rows: true, columns: predicted):\n");
    for (int k = 0; k < C; k++) {
        printf("  %-*.*s", w, w, tv->tokens[k]);
        for (int j = 0; j < C; j++)
            printf(" %6ld", ev->confusion[(size_t)k * C + j]);
        printf("\n");
    }
}

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
    char ep[32] = "";
    if (epoch >= 0)
        snprintf(ep, sizeof ep, "epoch %ld  ", epoch);
    if (s->input_size) /* image classes: one label per sample */
        printf("eval: %stest accuracy %.4f  on %ld held-out images\n", ep, ev->exact, c->test_size);
    else if (ev->classes)
        printf("eval: %saccuracy %.4f  macro-F1 %.4f  on %ld held-out\n", ep, ev->exact, ev->macro_f1, c->test_size);
    else if (epoch >= 0)
        printf("eval: epoch %ld  exact-match %.4f  token-accuracy %.4f%s  on %ld held-out\n", epoch, ev->exact,
               ev->token_acc, bleu, c->test_size);
    else
        printf("eval: exact-match %.4f  token-accuracy %.4f%s  on %ld held-out\n", ev->exact, ev->token_acc, bleu,
               c->test_size);
    if (ev->classes && epoch < 0)
        print_classes(s, ev);
    fflush(stdout);
    if (s->metrics) {
        long spe = tr_session_steps_per_epoch(s);
        fprintf(s->metrics, "%ld,%ld,,,,,%.6f,%.6f,", s->step, s->step / spe, ev->exact, ev->token_acc);
        if (ev->has_bleu)
            fprintf(s->metrics, "%.6f", ev->bleu);
        fputc(',', s->metrics);
        if (ev->classes)
            fprintf(s->metrics, "%.6f", ev->macro_f1);
        fputs(",\n", s->metrics); /* skipped_steps: training rows only */
        fflush(s->metrics);
    }
}

static const char *best_metric_name(const tr_config *c)
{
    static const char *const names[] = {"none", "accuracy", "exact_match", "token_accuracy", "bleu", "macro_f1"};
    return names[c->keep_best];
}

static double best_metric_of(const tr_config *c, const tr_eval *ev)
{
    switch (c->keep_best) {
    case TR_BEST_TOKEN_ACC: return ev->token_acc;
    case TR_BEST_BLEU: return ev->bleu;
    case TR_BEST_MACRO_F1: return ev->macro_f1;
    default: return ev->exact; /* accuracy, exact_match */
    }
}

/* An evaluation's attention maps, then its line and metrics.csv row (rank
 * 0); a file that cannot be written stops every rank (exit 1), the files
 * as they were before it. The metrics.csv row comes last of everything an
 * evaluation writes (after track_best too): it is what a resume looks for
 * to know the evaluation was recorded (a kill before it: evaluated again). */
static int write_maps(tr_session *s, const tr_eval *ev, const char *apath)
{
    tr_error err = {0};
    tr_status st = s->comm.rank == 0 ? tr_attention_write(s, apath, ev, &err) : TR_OK;
    return agree(&s->comm, tr_status_exit_code(st), &err);
}

static int write_eval_row(tr_session *s, const tr_eval *ev, long epoch, const char *apath, int final)
{
    tr_error err = {0};
    tr_status st = TR_OK;
    if (s->comm.rank == 0) {
        print_eval(s, ev, epoch);
        st = tr_session_flush_metrics(s, &err);
        if (!st && final && s->cfg->attention_samples > 0)
            printf("attention maps: %s\n", apath);
    }
    return agree(&s->comm, tr_status_exit_code(st), &err);
}

/* train.keep_best after an evaluation (collective): best.h5 when the metric
 * improved, then checkpoint.h5 again so that a resume knows the best so far
 * and how many evaluations have passed since. */
static int track_best(tr_session *s, const tr_eval *ev, const char *best, const char *ck)
{
    const tr_config *c = s->cfg;
    if (c->keep_best == TR_BEST_NONE)
        return 0;
    tr_error err = {0};
    const int root = s->comm.rank == 0;
    const double v = best_metric_of(c, ev);
    tr_status st = TR_OK;
    if (s->tracked_step == s->step)
        return 0; /* counted before a kill, in the checkpoint resumed from: not again */
    s->tracked_step = s->step;
    if (v > s->best_value) {
        s->best_value = v;
        s->best_step = s->step;
        s->stale_evals = 0;
        st = root ? tr_checkpoint_save(s, best, &err) : TR_OK;
        if (!st && root)
            printf("best: %s %.4f at step %ld -> %s\n", best_metric_name(c), v, s->step, best);
    } else
        s->stale_evals++;
    if (!st && root)
        st = tr_checkpoint_save(s, ck, &err);
    if (!st)
        s->saved_step = s->step;
    return agree(&s->comm, tr_status_exit_code(st), &err);
}

static int train_session(tr_session *s, int fresh)
{
    const tr_config *c = s->cfg;
    const tr_plugin *P = s->plugin.desc;
    const int root = s->comm.rank == 0;
    FILE *log = root ? stdout : NULL;
    tr_error err = {0};
    char *ck = run_file(c, "checkpoint.h5"), *mpath = run_file(c, "metrics.csv"), *apath = run_file(c, "attention.h5");
    char *best = run_file(c, "best.h5");
    int rc = 0;
    /* Resume unless told not to: every rank reads the checkpoint. */
    int have = !fresh && access(ck, F_OK) == 0;
    tr_status st = have ? tr_checkpoint_load(s, ck, 1, &err) : TR_OK;
    if ((rc = agree(&s->comm, tr_status_exit_code(st), &err)))
        goto done;
    if (have && c->keep_best) {
        /* best.h5 is written just before checkpoint.h5 records it: a crash
         * between the two leaves best.h5 the newer */
        double v;
        long at = tr_checkpoint_best_of(best, &v);
        if (at > s->best_step) {
            s->best_value = v;
            s->best_step = at;
            s->stale_evals = 0;
        }
    }
    if (fresh && root)
        unlink(best); /* the best of the run being started over */
    const long loaded = have ? s->step : -1;
    long spe = tr_session_steps_per_epoch(s);
    long total = spe * c->epochs;
    const int stopped = c->early_stop > 0 && s->stale_evals >= c->early_stop;
    /* A finished run (trained, and its final evaluation recorded when it has
     * a held-out set) is left alone: re-running the command writes nothing.
     * Rank 0 reads metrics.csv; every rank leaves together. */
    int finished = have && (s->step >= total || stopped);
    if (finished && c->test_size > 0)
        finished = tr_comm_bcast_int(&s->comm, root && evaluated_at(mpath, s->step), 0);
    if (finished) {
        if (root && stopped && s->step < total)
            printf("trainer: %s stopped early at step %ld (no better %s in %ld evaluations; the best: step %ld, in "
                   "best.h5): nothing to do; --fresh starts over, or a larger train.early_stop goes on\n", c->run_out,
                   s->step, best_metric_name(c), s->stale_evals, s->best_step);
        else if (root && s->step == total)
            printf("trainer: %s is complete (%ld of %ld epochs, step %ld): nothing to do; --fresh starts over, "
                   "or train.epochs=N (N > %ld) goes on\n", c->run_out, s->step / spe, c->epochs, s->step, s->step / spe);
        else if (root)
            printf("trainer: %s is complete (%ld epochs, more than train.epochs = %ld; step %ld): nothing to do; "
                   "--fresh starts over, or train.epochs=N (N > %ld) goes on\n", c->run_out, s->step / spe, c->epochs,
                   s->step, s->step / spe);
        fflush(stdout);
        goto done;
    }
    if (root && tr_mkdirs(c->run_out)) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot create the run folder: %s", c->run_out, strerror(errno));
        rc = 1;
    }
    if (root && !rc && !(s->metrics = open_metrics(mpath, s->step, !have))) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot write: %s", mpath, strerror(errno));
        rc = 1;
    }
    s->metrics_path = mpath;
    if ((rc = agree(&s->comm, rc, &err)))
        goto done;
    s->ckpt_path = ck;
    s->save = tr_checkpoint_save;
    if (root) {
        size_t nparams = 0;
        for (int i = 0; i < s->reg.n; i++)
            nparams += s->reg.tensors[i].count;
        int shards = s->max_shards, R = s->comm.size;
        printf("model: %s %s (%s), %zu parameters in %d tensors\n", P->name, P->version, s->plugin.path, nparams, s->reg.n);
        const char *from = c->data_kind == TR_DATA_HDF5         ? c->file
                           : c->data_kind == TR_DATA_TEXT_LABELS ? c->files
                           : c->data_kind == TR_DATA_WORD_PAIRS  ? c->source
                           : c->data_kind == TR_DATA_IDX_IMAGES  ? c->data_dir
                                                                 : c->pairs;
        if (s->input_size)
            printf("data: %ld train / %ld held-out images (%dx%dx%d) from %s, %d classes\n", c->train_size,
                   c->test_size, s->pairs.channels, s->pairs.height, s->pairs.width, from, s->vocabs.tgt.n);
        else if (tr_session_classifies(s))
            printf("data: %ld train / %ld held-out labelled %s from %s, src_len %ld, vocabulary %d, %d classes\n",
                   c->train_size, c->test_size, c->data_kind == TR_DATA_HDF5 ? "rows" : "lines", from, c->src_len,
                   s->vocabs.src.n, s->vocabs.tgt.n);
        else
            printf("data: %ld train / %ld held-out pairs from %s, src_len %ld, tgt_len %ld, vocabularies %d / %d\n",
                   c->train_size, c->test_size, from, c->src_len, c->tgt_len, s->vocabs.src.n, s->vocabs.tgt.n);
        if (s->in_mean) {
            printf("data: normalised per channel by the training images' mean and deviation:");
            for (int c = 0; c < s->pairs.channels && c < 8; c++)
                printf(" %.4f/%.4f", s->in_mean[c], s->in_std[c]);
            printf("%s\n", s->pairs.channels > 8 ? " ..." : "");
        }
        if (s->pairs.src_cut)
            printf("data: %ld of %ld sources (train + held-out) longer than src_len = %ld were cut\n", s->pairs.src_cut,
                   c->train_size + c->test_size, c->src_len);
        if (s->pairs.tgt_cut)
            printf("data: %ld of %ld targets (train + held-out) longer than tgt_len = %ld with </s> were cut\n",
                   s->pairs.tgt_cut, c->train_size + c->test_size, c->tgt_len);
        printf("layout: %d rank%s x %d thread%s; batch %ld in micro-shards of %d; %ld steps/epoch x %ld epochs\n", R,
               R > 1 ? "s" : "", s->threads, s->threads > 1 ? "s" : "", c->batch, s->micro, spe, c->epochs);
        long most = (long)((shards + R - 1) / R) * s->micro;
        printf("layout: %d micro-shard%s per step, %d-%d per rank (up to %ld samples per rank per step)%s\n", shards,
               shards > 1 ? "s" : "", shards / R, (shards + R - 1) / R, most < c->batch ? most : c->batch,
               shards < R ? "; some ranks idle: more ranks than micro-shards" : "");
        if (have)
            printf("resumed from %s at step %ld (epoch %ld)%s\n", ck, s->step, s->step / spe,
                   s->step >= total ? ": training complete, its final evaluation missing: evaluating" : "");
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
    /* Resumed where an evaluation was due but not recorded (killed after
     * the checkpoint, before the evaluation): evaluate before training on,
     * as the uninterrupted run did. */
    int due = have && chunk > 0 && s->step > 0 && s->step < total && s->step % chunk == 0 && c->test_size > 0;
    if (due)
        due = tr_comm_bcast_int(&s->comm, root && !evaluated_at(mpath, s->step), 0);
    while (s->step < total) {
        /* to the next evaluation: a resume from a checkpoint between two
         * (train.checkpoint_every, a kill) keeps the uninterrupted schedule */
        const long until_eval = chunk > 0 ? chunk - s->step % chunk : -1;
        if (!due && (st = tr_session_train(s, until_eval, log, &err))) {
            rc = st == TR_ERR_INTERRUPTED ? 128 + s->stop : tr_status_exit_code(st); /* as if killed by it */
            report(s, st, &err);
            goto done;
        }
        due = 0;
        if (s->step < total && c->test_size > 0) {
            if ((st = tr_session_evaluate(s, &ev, &err))) {
                rc = report(s, st, &err);
                goto done;
            }
            if ((rc = write_maps(s, &ev, apath)) || (rc = track_best(s, &ev, best, ck)) ||
                (rc = write_eval_row(s, &ev, s->step / spe, apath, 0)))
                goto done;
            if (c->early_stop > 0 && s->stale_evals >= c->early_stop) {
                if (root)
                    printf("early stop at step %ld: no better %s in %ld evaluations (the best: %.4f at step %ld, in "
                           "%s)\n", s->step, best_metric_name(c), s->stale_evals, s->best_value, s->best_step, best);
                final_eval = 0; /* this step was just evaluated */
                break;
            }
        }
    }
    /* no steps ran: save the initial state, unless it is the checkpoint
     * resumed from (at the end, to evaluate) */
    if (s->saved_step != s->step && s->step != loaded) {
        st = root ? tr_checkpoint_save(s, ck, &err) : TR_OK;
        if ((rc = agree(&s->comm, tr_status_exit_code(st), &err)))
            goto done;
        s->saved_step = s->step;
    }
    if (root && s->step != loaded) {
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
        if ((rc = write_maps(s, &ev, apath)) || (rc = track_best(s, &ev, best, ck)) ||
            (rc = write_eval_row(s, &ev, -1, apath, 1)))
            goto done;
    }
done:
    if (s->metrics)
        fclose(s->metrics);
    s->metrics = NULL;
    s->metrics_path = NULL;
    s->ckpt_path = NULL;
    free(ck);
    free(mpath);
    free(apath);
    free(best);
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
    printf("attention weights in %% (each row sums to 100; pad: the weight on padding)\n");
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

/* A classifier's answer: the class and the probability the model gives it
 * (probs [classes]; a plugin that fills none prints the class alone). */
static void print_class(const tr_session *s, int32_t cls, const float *probs)
{
    const tr_vocab *tv = &s->vocabs.tgt;
    const char *name = cls >= 0 && cls < tv->n ? tv->tokens[cls] : "?";
    if (probs && cls >= 0 && cls < tv->n && probs[cls] > 0)
        printf("%s (p = %.4f)\n", name, probs[cls]);
    else
        printf("%s\n", name);
}

/* Attention pooling over the input: one line per token, its weight in %. */
static void print_attention_pool(const tr_session *s, const int32_t *src, const float *attn)
{
    const tr_vocab *sv = &s->vocabs.src;
    const int Tx = (int)s->cfg->src_len;
    int len = 0, w = 5;
    while (len < Tx && src[len] != sv->pad)
        len++;
    for (int t = 0; t < len; t++)
        w = (int)strlen(sv->tokens[src[t]]) > w ? (int)strlen(sv->tokens[src[t]]) : w;
    printf("attention weights in %% over the input's %d tokens (they sum to 100)\n", len);
    for (int t = 0; t < len; t++)
        printf("  %-*s %6.1f\n", w, sv->tokens[src[t]], 100.0 * attn[t]);
}

/* An image model's maps for one sample: channel weights as their five
 * largest, a small matrix (a spatial transformer's theta, 2x3) as numbers,
 * spatial maps as a grid of shades, an image (a transformer's output,
 * [C, H, W]) as a PNG named after the input (its first channel). */
static void print_maps(const tr_session *s, float *const *maps, const char *what)
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
        } else if (m->ndim == 2 && m->shape[0] * m->shape[1] <= 16) {
            printf("%s [%dx%d]:\n", m->name, m->shape[0], m->shape[1]);
            for (int y = 0; y < m->shape[0]; y++) {
                for (int x = 0; x < m->shape[1]; x++)
                    printf(" %8.4f", v[y * m->shape[1] + x]);
                printf("\n");
            }
        } else if (m->ndim == 3) {
            char path[4200], name[128];
            snprintf(name, sizeof name, "%s", m->name);
            for (char *c = name; *c; c++)
                *c = *c == '/' ? '_' : *c;
            /* beside the input PNG (x.png -> x.stn_transformed.png); a held-out index i -> heldout_i.<map>.png */
            const char *dot = strrchr(what, '.');
            char *end = NULL;
            strtol(what, &end, 10);
            const int index = *what && end && !*end;
            snprintf(path, sizeof path, "%s%.*s.%s.png", index ? "heldout_" : "",
                     dot && strcmp(dot, ".png") == 0 ? (int)(dot - what) : (int)strlen(what), what, name);
            float lo, hi;
            tr_error e = {0};
            if (tr_png_write_scaled(path, v, m->shape[0], m->shape[1], m->shape[2], &lo, &hi, &e))
                fprintf(stderr, "trainer: %s\n", e.msg);
            else
                printf("%s [%dx%dx%d]: %s (%.2f .. %.2f shown as 0 .. 255)\n", m->name, m->shape[0], m->shape[1],
                       m->shape[2], path, lo, hi);
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
        print_maps(s, maps, what);
    return 0;
}

/* `--checkpoint best|last` of predict and eval; NULL (after a usage error) if neither. */
static const char *checkpoint_arg(const char *which)
{
    if (strcmp(which, "last") == 0 || strcmp(which, "best") == 0)
        return which;
    usage_error("--checkpoint takes 'best' (best.h5, train.keep_best) or 'last' (checkpoint.h5), not '%s'", which);
    return NULL;
}

/* The config's session with its trained parameters (checkpoint.h5, or
 * best.h5 for which = "best"); NULL after printing the error (*rc). */
static tr_session *open_trained(const char *path, int nov, char **ov, const char *which, int with_data,
                                tr_error *err, int *rc)
{
    tr_config *cfg = NULL;
    if (tr_config_load(&cfg, path, nov, ov, err)) {
        *rc = fail_config(err);
        return NULL;
    }
    tr_session *s = NULL;
    if (tr_session_open(&s, cfg, with_data, err)) {
        *rc = fail(err);
        return NULL;
    }
    const int best = strcmp(which, "best") == 0;
    char *ck = run_file(s->cfg, best ? "best.h5" : "checkpoint.h5");
    if (best && access(ck, F_OK) != 0) {
        tr_error_set(err, TR_ERR_CONFIG, "%s: no such file: best.h5 is written by runs with train.keep_best", ck);
        *rc = fail_config(err);
    } else if (tr_checkpoint_load(s, ck, 0, err))
        *rc = fail(err);
    free(ck);
    if (*rc) {
        tr_session_close(s);
        return NULL;
    }
    return s;
}

/* ids[T] as text: words joined by spaces, characters joined; padding skipped. */
static void decode_source(char *buf, size_t len, const int32_t *ids, int T, const tr_vocab *v)
{
    size_t o = 0;
    buf[0] = 0;
    for (int t = 0; t < T && o + 1 < len; t++) {
        if (ids[t] == v->pad || ids[t] < 0 || ids[t] >= v->n)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s", v->words && o ? " " : "", v->tokens[ids[t]]);
    }
}

/* A TSV cell: tabs and line ends become spaces. */
static void tsv_cell(FILE *f, const char *s, int last)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
    fputc(last ? '\n' : '\t', f);
}

/* `trainer eval`: one row per sample of a split, in its order, with its
 * place in the dataset file, input, target, prediction and the class's
 * probability (classifiers) or the share of target tokens right. */
static int cmd_eval(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("%s", "eval needs a config");
    const char *path = argv[0], *which = "last", *split = "test", *out = NULL;
    int nov = 0;
    char **ov = calloc((size_t)argc, sizeof *ov);
    if (!ov)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--checkpoint") == 0 || strcmp(a, "--split") == 0 || strcmp(a, "--out") == 0) && i + 1 < argc) {
            const char *v = argv[++i];
            if (a[2] == 'c') which = v;
            else if (a[2] == 's') split = v;
            else out = v;
        } else if (is_override(a))
            ov[nov++] = argv[i];
        else {
            free(ov);
            return usage_error("eval: unexpected argument '%s' (--split test|train, --out FILE.tsv, --checkpoint best|last)", a);
        }
    }
    if (!checkpoint_arg(which)) {
        free(ov);
        return 2;
    }
    if (strcmp(split, "test") != 0 && strcmp(split, "train") != 0) {
        free(ov);
        return usage_error("--split takes 'test' or 'train', not '%s'", split);
    }
    tr_error err = {0};
    int rc = 0;
    tr_session *s = open_trained(path, nov, ov, which, 1, &err, &rc);
    free(ov);
    if (!s)
        return rc;
    const tr_config *c = s->cfg;
    const tr_pairs *p = &s->pairs;
    const int test = strcmp(split, "test") == 0, Tx = (int)c->src_len, Ty = (int)c->tgt_len;
    const long first = test ? p->n - c->test_size : 0, n = test ? c->test_size : c->train_size;
    const int C = tr_session_classifies(s) ? s->vocabs.tgt.n : 0;
    char *deflt = NULL;
    if (!out) {
        char name[64];
        snprintf(name, sizeof name, "eval_%s.tsv", split);
        out = deflt = run_file(c, name);
    }
    char *tmp = malloc(strlen(out) + 5);
    FILE *f = NULL;
    if (tmp) {
        sprintf(tmp, "%s.tmp", out);
        f = fopen(tmp, "w");
    }
    if (!f) {
        tr_error_set(&err, TR_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
        rc = fail(&err);
    }
    enum { BLOCK = 1024 };
    int32_t *pred = malloc((size_t)BLOCK * Ty * sizeof *pred);
    float *probs = C ? malloc((size_t)BLOCK * C * sizeof *probs) : NULL;
    char src[8192], tgt[4096], hyp[4096], where[512];
    long right = 0, tok_right = 0, toks = 0;
    if (!rc && (!pred || (C && !probs)))
        rc = 1;
    if (!rc)
        fprintf(f, "index\tsource\ttarget\tprediction\t%s\n", C ? "probability" : "token_accuracy");
    for (long b = 0; !rc && b < n; b += BLOCK) {
        const int m = (int)(n - b < BLOCK ? n - b : BLOCK);
        const long at = first + b;
        if (tr_session_predict_full(s, tr_session_src(s, at), tr_session_pixels(s, at), p->index ? p->index + at : NULL,
                                    m, pred, NULL, NULL, probs, &err)) {
            rc = fail(&err);
            break;
        }
        for (int i = 0; i < m; i++) {
            const int32_t *t = p->tgt + (size_t)(at + i) * Ty, *h = pred + (size_t)i * Ty;
            tr_pairs_where(where, sizeof where, p, p->index ? p->index[at + i] : at + i);
            src[0] = 0;
            if (p->text) /* labelled text: the line as written */
                snprintf(src, sizeof src, "%s", p->text[at + i]);
            else if (Tx > 0)
                decode_source(src, sizeof src, tr_session_src(s, at + i), Tx, &s->vocabs.src);
            tr_decode_target(tgt, sizeof tgt, t, Ty, &s->vocabs);
            tr_decode_target(hyp, sizeof hyp, h, Ty, &s->vocabs);
            tsv_cell(f, where, 0);
            tsv_cell(f, src, 0);
            tsv_cell(f, tgt, 0);
            tsv_cell(f, hyp, 0);
            if (C) {
                right += h[0] == t[0];
                fprintf(f, "%.6f\n", h[0] >= 0 && h[0] < C ? probs[(size_t)i * C + h[0]] : 0.0);
                continue;
            }
            int ok = 0, all = 0, exact = 1;
            for (int y = 0; y < Ty; y++) {
                if (s->vocabs.tgt.pad >= 0 && t[y] == s->vocabs.tgt.pad && h[y] == t[y])
                    continue;
                all++;
                ok += h[y] == t[y];
                exact &= h[y] == t[y];
            }
            right += exact;
            tok_right += ok;
            toks += all;
            fprintf(f, "%.6f\n", all ? (double)ok / all : 1.0);
        }
    }
    if (f && (fclose(f) || rc)) {
        if (!rc) {
            tr_error_set(&err, TR_ERR_IO, "%s: writing failed (disk full?)", tmp);
            rc = fail(&err);
        }
        unlink(tmp);
    } else if (f && rename(tmp, out)) {
        tr_error_set(&err, TR_ERR_IO, "%s: cannot rename onto %s: %s", tmp, out, strerror(errno));
        rc = fail(&err);
        unlink(tmp);
    }
    if (!rc && C)
        printf("eval (%s, %s): accuracy %.4f on %ld samples -> %s\n", split, which, n ? (double)right / n : 0.0, n, out);
    else if (!rc)
        printf("eval (%s, %s): exact-match %.4f  token-accuracy %.4f on %ld samples -> %s\n", split, which,
               n ? (double)right / n : 0.0, toks ? (double)tok_right / toks : 1.0, n, out);
    free(pred);
    free(probs);
    free(tmp);
    free(deflt);
    tr_session_close(s);
    return rc;
}

/* predict --head H: the last map with axes sample,head,query,key of the
 * attention's own shape [heads, tgt_len, src_len] (a Transformer's last
 * cross-attention), if it has head H; else -1 and a line on stderr */
static int head_map(const tr_session *s, long head)
{
    int k = -1;
    for (int j = 0; j < s->n_maps; j++) {
        const tr_map_spec *m = &s->map_specs[j];
        if (m->ndim == 3 && m->axes && !strcmp(m->axes, "sample,head,query,key") && m->shape[1] == s->cfg->tgt_len &&
            m->shape[2] == s->cfg->src_len && !tr_session_classifies(s))
            k = j;
    }
    if (k < 0)
        fprintf(stderr, "trainer: predict --head: the model has no per-head map [heads, %ld, %ld] of its attention\n",
                (long)s->cfg->tgt_len, (long)s->cfg->src_len);
    else if (head > s->map_specs[k].shape[0])
        fprintf(stderr, "trainer: predict --head %ld: %s has %d heads\n", head, s->map_specs[k].name,
                s->map_specs[k].shape[0]), k = -1;
    return k;
}

static int cmd_predict(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("%s", "predict needs a config and a text (or - for stdin)");
    const char *path = argv[0];
    const char *text = NULL;
    int attention = 0, nov = 0;
    long head = 0; /* --head H: that head's map instead of the mean over heads */
    char **ov = calloc((size_t)argc, sizeof *ov);
    if (!ov)
        return 1;
    const char *which = "last";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--attention") == 0) attention = 1;
        else if (strcmp(argv[i], "--head") == 0 && i + 1 < argc) {
            char *end;
            head = strtol(argv[++i], &end, 10);
            if (*end || head < 1) {
                free(ov);
                return usage_error("--head %s: want a head number, 1 or more", argv[i]);
            }
            attention = 1;
        }
        else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) which = argv[++i];
        else if (strncmp(argv[i], "--checkpoint=", 13) == 0) which = argv[i] + 13;
        else if (is_override(argv[i])) ov[nov++] = argv[i];
        else if (!text) text = argv[i];
        else { free(ov); return usage_error("predict takes one text; got another: '%s' (quote the text)", argv[i]); }
    }
    if (!text) {
        free(ov);
        return usage_error("%s", "predict needs a text to translate, or - to read lines from stdin");
    }
    if (!checkpoint_arg(which)) {
        free(ov);
        return 2;
    }
    tr_error err = {0};
    int rc0 = 0;
    tr_session *s = open_trained(path, nov, ov, which, 0, &err, &rc0);
    free(ov);
    if (!s)
        return rc0;
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
        float *probs = malloc((size_t)s->vocabs.tgt.n * sizeof *probs);
        if (!src || !out || !attn || !probs) rc = 1;
        else {
            tr_encode_source(src, text, &s->vocabs, Tx, s->cfg->lowercase);
            float *maps[TR_MAX_MAPS] = {0};
            const int k = head ? head_map(s, head) : -1;
            if (head && k < 0) rc = 2;
            else if (k >= 0 && !(maps[k] = malloc(tr_session_map_size(s, k) * sizeof(float)))) rc = 1;
            else if (tr_session_predict_full(s, src, NULL, NULL, 1, out, attn, maps, probs, &err)) rc = fail(&err);
            else if (tr_session_classifies(s)) {
                print_class(s, out[0], probs);
                if (attention) print_attention_pool(s, src, attn);
            } else {
                tr_decode_target(buf, sizeof buf, out, Ty, &s->vocabs);
                printf("%s\n", buf);
                if (k >= 0) /* [H, Ty, Tx]: head H's rows */
                    memcpy(attn, maps[k] + (size_t)(head - 1) * Ty * Tx, (size_t)Ty * Tx * sizeof *attn);
                if (k >= 0) printf("head %ld of %s\n", head, s->map_specs[k].name);
                if (attention) print_attention(s, text, src, out, attn);
            }
            free(maps[k >= 0 ? k : 0]);
        }
        free(src); free(out); free(attn); free(probs);
    } else {
        /* Lines from stdin, predicted in blocks so the threads have work. */
        enum { BLOCK = 4096 };
        int32_t *src = malloc((size_t)BLOCK * Tx * sizeof *src), *out = malloc((size_t)BLOCK * Ty * sizeof *out);
        char *line = NULL, buf[4096];
        size_t cap = 0;
        const int C = tr_session_classifies(s) ? s->vocabs.tgt.n : 0;
        float *probs = C ? malloc((size_t)BLOCK * C * sizeof *probs) : NULL;
        if (!src || !out || (C && !probs)) rc = 1;
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
            if (tr_session_predict_full(s, src, NULL, NULL, n, out, NULL, NULL, probs, &err)) { rc = fail(&err); break; }
            for (int i = 0; i < n; i++) {
                if (C) {
                    print_class(s, out[i], probs + (size_t)i * C);
                    continue;
                }
                tr_decode_target(buf, sizeof buf, out + (size_t)i * Ty, Ty, &s->vocabs);
                puts(buf);
            }
            if (n < BLOCK) break;
        }
        free(line); free(src); free(out); free(probs);
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

/* A whole number >= 1 or a float > 0 from an option's value; 0 if not one. */
static int parse_count(const char *v, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end != 0 || x < 1 || x > 1000000)
        return 0;
    *out = (int)x;
    return 1;
}

static int parse_positive(const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (*v == 0 || *end != 0 || !(x > 0) || !isfinite(x))
        return 0;
    *out = x;
    return 1;
}

static int cmd_gradcheck(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("%s", "gradcheck needs a config");
    if (tr_comm_world().size > 1)
        return usage_error("%s", "gradcheck runs in one process: start it without mpirun");
    tr_gradcheck_opts o = {.size = sizeof o};
    int nov = 0;
    char **ov = calloc((size_t)argc, sizeof *ov);
    if (!ov)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (strcmp(a, "--samples") == 0)
            ok = ok && parse_count(v, &o.samples);
        else if (strcmp(a, "--entries") == 0)
            ok = ok && parse_count(v, &o.entries);
        else if (strcmp(a, "--step") == 0)
            ok = ok && parse_positive(v, &o.step);
        else if (strcmp(a, "--tolerance") == 0)
            ok = ok && parse_positive(v, &o.tolerance);
        else if (strcmp(a, "--tensors") == 0)
            o.tensors = v;
        else if (strcmp(a, "--checkpoint") == 0)
            o.checkpoint = v;
        else if (is_override(a)) {
            ov[nov++] = argv[i];
            continue;
        } else {
            free(ov);
            return usage_error("gradcheck: unexpected argument '%s' (--samples N, --entries K, --tensors a,b, "
                               "--checkpoint FILE.h5, --step H, --tolerance T, section.key=value)", a);
        }
        if (!ok) {
            free(ov);
            return usage_error("gradcheck: %s needs a value (a count >= 1; --step and --tolerance: a number > 0)", a);
        }
        i++;
    }
    tr_error err = {0};
    int bad = tr_gradcheck(argv[0], nov, ov, &o, stdout, &err);
    free(ov);
    if (bad < 0)
        return fail(&err);
    return bad ? 1 : 0;
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
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "gradcheck") == 0)
        return cmd_gradcheck(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) {
        if (argc < 3)
            return usage_error("%s", "train needs a config");
        return cmd_train(argc - 2, argv + 2);
    }
    if (cmd[0] == '-')
        return usage_error("unknown option '%s'", cmd);
    return cmd_train(argc - 1, argv + 1);
}

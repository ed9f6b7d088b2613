/* tests/fuzz/fuzz.h - what every harness shares: the fuzzer's bytes become
 * files in one scratch folder (the readers take paths, as the trainer does),
 * and a run configuration is written there as YAML and loaded the trainer's
 * way, so each harness goes through the same code as `trainer CONFIG`. */
#ifndef TR_FUZZ_H
#define TR_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config/config.h"
#include "data/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch folder, made once per process and removed at exit. */
static char fz_dir[256];

static inline void fz_cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (fz_dir[0] && system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
}

/* FOLDER/name */
static inline const char *fz_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    if (!fz_dir[0]) {
        snprintf(fz_dir, sizeof fz_dir, "%s/trainer-fuzz.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    snprintf(p, 512, "%s/%s", fz_dir, name);
    return p;
}

/* Writes n bytes to FOLDER/name; returns its path. */
static inline const char *fz_write(const char *name, const void *bytes, size_t n)
{
    const char *path = fz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(bytes, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

static inline const char *fz_write_text(const char *name, const char *text)
{
    return fz_write(name, text, strlen(text));
}

/* Loads a configuration from YAML text (printf-style) and overrides; a
 * harness's own configuration must load, so a failure here aborts. */
__attribute__((format(printf, 3, 4)))
static inline tr_config *fz_config(int n_overrides, char *const *overrides, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tr_config *cfg = NULL;
    tr_error err = {0};
    if (tr_config_load(&cfg, fz_write_text("run.yaml", text), n_overrides, overrides, &err) != TR_OK) {
        fprintf(stderr, "fuzz: the harness's own configuration: %s\n", err.msg);
        abort();
    }
    return cfg;
}

/* The part of data[*at, size) up to the next NUL (or the end), as a
 * NUL-terminated copy in buf; *at moves past the NUL. How one input holds
 * several files. */
static inline size_t fz_next_part(const uint8_t *data, size_t size, size_t *at, uint8_t **buf)
{
    size_t start = *at, end = start;
    while (end < size && data[end] != 0)
        end++;
    *buf = malloc(end - start + 1);
    memcpy(*buf, data + start, end - start);
    (*buf)[end - start] = 0;
    *at = end < size ? end + 1 : end;
    return end - start;
}

/* An error is one line naming what is wrong: anything else is a finding.
 * TR_FUZZ_VERBOSE=1 prints each (to see what an input gets). */
static inline void fz_check_error(const tr_error *err)
{
    if (getenv("TR_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz: error: %s\n", err->msg);
    if (!err->msg[0] || strpbrk(err->msg, "\n\r")) {
        fprintf(stderr, "fuzz: an error must be one line: '%s'\n", err->msg);
        abort();
    }
}

/* Every data kind's reader, from the top (tr_data_load), then cfg freed. */
static inline void fz_load_data(tr_config *cfg)
{
    tr_vocabs v;
    tr_pairs p;
    memset(&v, 0, sizeof v);
    memset(&p, 0, sizeof p);
    tr_error err = {0};
    if (tr_data_load(&v, &p, cfg, 1, &err) != TR_OK)
        fz_check_error(&err);
    tr_pairs_free(&p);
    tr_vocabs_free(&v);
    tr_config_free(cfg);
}

#endif

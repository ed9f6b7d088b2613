/* tests/tr_test_config.h - load a shipped config with paths made absolute, so
 * tests run from any folder. */
#ifndef TR_TEST_CONFIG_H
#define TR_TEST_CONFIG_H

#include <stdio.h>
#include "config/config.h"
#include "runtime/session.h"

/* Loads TR_SOURCE_DIR/configs/<name>.yaml with data paths under
 * TR_SOURCE_DIR/data/<name>/ and run.out under /tmp, plus `extra` overrides. */
static inline tr_status tr_test_load_config(tr_config **cfg, const char *name,
                                            int n_extra, char *const *extra,
                                            tr_error *err)
{
    static char path[1024], pairs[1024], vocabs[1024], out[1024];
    char *ov[32];
    snprintf(path, sizeof path, "%s/configs/%s.yaml", TR_SOURCE_DIR, name);
    snprintf(pairs, sizeof pairs, "data.pairs=%s/data/%s/%s_dataset.json", TR_SOURCE_DIR, name, name);
    snprintf(vocabs, sizeof vocabs, "data.vocabs=%s/data/%s/%s_vocabs.json", TR_SOURCE_DIR, name, name);
    snprintf(out, sizeof out, "run.out=/tmp/trainer-test-%s", name);
    int n = 0;
    ov[n++] = pairs;
    ov[n++] = vocabs;
    ov[n++] = out;
    for (int i = 0; i < n_extra && n < 32; i++)
        ov[n++] = extra[i];
    return tr_config_load(cfg, path, n, ov, err);
}

/* A session (with its data) of the config at `path` with `n` overrides, or
 * NULL after printing why. */
static inline tr_session *tr_test_open(const char *path, int n, char *const *ov)
{
    tr_config *cfg = NULL;
    tr_error err = {0};
    if (tr_config_load(&cfg, path, n, ov, &err)) {
        printf("\n  %s\n", err.msg);
        return NULL;
    }
    tr_session *s = NULL;
    if (tr_session_open(&s, cfg, 1, &err))
        printf("\n  %s\n", err.msg);
    return s;
}

#endif

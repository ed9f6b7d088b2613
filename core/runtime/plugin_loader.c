/* core/runtime/plugin_loader.c - plugin search path, dlopen, ABI check, and the
 * attention scorers libraries export (TR_SCORERS_DEFINE). */
#define _GNU_SOURCE
#include "runtime/plugin_loader.h"
#include "config/config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tr_plugin_search_dirs(const char **dirs, int max, char *storage,
                          size_t size, const char *config_dir)
{
    int n = 0;
    size_t used = 0;
    /* each folder once: an install at its configured prefix finds its
     * plugin folder both next to the library and as configured */
#define ADD(s, l)                                                   \
    do {                                                            \
        int dup_ = 0;                                               \
        for (int i_ = 0; i_ < n && !dup_; i_++)                     \
            dup_ = strlen(dirs[i_]) == (size_t)(l) &&               \
                   memcmp(dirs[i_], (s), (l)) == 0;                 \
        if (!dup_ && n < max && used + (l) + 1 <= size) {           \
            memcpy(storage + used, (s), (l));                       \
            storage[used + (l)] = 0;                                \
            dirs[n++] = storage + used;                             \
            used += (l) + 1;                                        \
        }                                                           \
    } while (0)
    if (config_dir && *config_dir)
        ADD(config_dir, strlen(config_dir));
    const char *env = getenv("TRAINER_PLUGIN_PATH");
    while (env && *env) {
        const char *colon = strchr(env, ':');
        size_t l = colon ? (size_t)(colon - env) : strlen(env);
        if (l)
            ADD(env, l);
        env = colon ? colon + 1 : NULL;
    }
    /* Where this copy of libtrainer lives decides the rest: the build
     * tree's libtrainer (or a test linked statically in the build tree)
     * searches the build's plugin folder; an installed one searches
     * <libdir>/trainer/plugins next to itself, wherever the prefix was
     * moved to (also a prefix inside the build tree). */
    char self[4096] = "";
    Dl_info info;
    if (dladdr((void *)&tr_plugin_search_dirs, &info) && info.dli_fname)
        if (!realpath(info.dli_fname, self))
            snprintf(self, sizeof self, "%s", info.dli_fname);
    char *slash = strrchr(self, '/');
    int in_build = strncmp(self, TR_BUILD_DIR "/", strlen(TR_BUILD_DIR) + 1) == 0;
    if (in_build && slash && strncmp(slash + 1, "libtrainer.", 11) == 0 &&
        ((size_t)(slash - self) != strlen(TR_BUILD_LIB_DIR) ||
         strncmp(self, TR_BUILD_LIB_DIR, strlen(TR_BUILD_LIB_DIR)) != 0))
        in_build = 0;
    if (in_build) {
        ADD(TR_BUILD_PLUGIN_DIR, strlen(TR_BUILD_PLUGIN_DIR));
    } else if (slash) {
        char dir[4200];
        int l = snprintf(dir, sizeof dir, "%.*s/trainer/plugins", (int)(slash - self), self);
        if (l > 0 && (size_t)l < sizeof dir)
            ADD(dir, (size_t)l);
    }
    ADD(TR_INSTALL_PLUGIN_DIR, strlen(TR_INSTALL_PLUGIN_DIR));
#undef ADD
    return n;
}

/* ---- scorers registered on behalf of loaded libraries. A library opened
 * twice (dlopen hands back the same handle) registers its scorers once;
 * they go when the last handle closes. */

enum { MAX_HELD = 64 };
static struct {
    const tr_scorer *s;
    int refs;
} held[MAX_HELD];
static int n_held;

static tr_status hold_scorer(const tr_scorer *s, const char *path, tr_error *err)
{
    for (int i = 0; i < n_held; i++)
        if (held[i].s == s) {
            held[i].refs++;
            return TR_OK;
        }
    if (s->size < offsetof(tr_scorer, backward) + sizeof s->backward)
        return tr_error_set(err, TR_ERR_PLUGIN, "%s: attention scorer '%s': descriptor too small (size %zu)", path,
                            s->name ? s->name : "?", s->size);
    if (n_held == MAX_HELD)
        return tr_error_set(err, TR_ERR_PLUGIN, "%s: too many attention scorers from plugins (at most %d)", path,
                            MAX_HELD);
    tr_error e = {0};
    if (tr_scorer_register(s, &e))
        return tr_error_set(err, TR_ERR_PLUGIN, "%s: cannot register its attention scorer: %s", path, e.msg);
    held[n_held].s = s;
    held[n_held].refs = 1;
    n_held++;
    return TR_OK;
}

static void release_scorer(const tr_scorer *s)
{
    for (int i = 0; i < n_held; i++)
        if (held[i].s == s) {
            if (--held[i].refs == 0) {
                tr_scorer_unregister(s);
                held[i] = held[--n_held];
            }
            return;
        }
}

static tr_status register_scorers(tr_loaded_plugin *p, tr_error *err)
{
    for (const tr_scorer *const *s = p->scorers; s && *s; s++) {
        tr_status st = hold_scorer(*s, p->path, err);
        if (st)
            return st;
        p->n_registered++;
    }
    return TR_OK;
}

/* ---- one file */

/* dlopen, then the model descriptor (entry symbol, ABI, required fields)
 * and the scorer list. need_model: a library without a model is refused. */
static tr_status open_file(tr_loaded_plugin *out, const char *path, int need_model, tr_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return tr_error_set(err, TR_ERR_PLUGIN, "%s: cannot load plugin: %s", path, e ? e : "unknown dlopen error");
    }
    tr_plugin_entry_fn entry = NULL;
    tr_scorers_entry_fn sentry = NULL;
    void *sym = dlsym(h, TR_PLUGIN_ENTRY_NAME);
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX allows */
    sym = dlsym(h, TR_SCORERS_ENTRY_NAME);
    memcpy(&sentry, &sym, sizeof sentry);
    if (!entry && (need_model || !sentry)) {
        dlclose(h);
        if (need_model && sentry)
            return tr_error_set(err, TR_ERR_PLUGIN, "%s: exports attention scorers but no model (name it in model.scorer_plugins, not model.plugin)", path);
        return tr_error_set(err, TR_ERR_PLUGIN, "%s: not a trainer plugin (no symbol '%s'; define it with TR_PLUGIN_DEFINE)",
                            path, TR_PLUGIN_ENTRY_NAME);
    }
    const tr_plugin *d = NULL;
    if (entry) {
        d = entry();
        if (!d) {
            dlclose(h);
            return tr_error_set(err, TR_ERR_PLUGIN, "%s: the plugin's %s() returned NULL", path, TR_PLUGIN_ENTRY_NAME);
        }
        if (d->abi_version != TR_ABI_VERSION) {
            int abi = d->abi_version; /* d lives in the plugin: read before dlclose */
            dlclose(h);
            return tr_error_set(err, TR_ERR_ABI, "%s: plugin built for plugin ABI %d, this trainer speaks ABI %d (rebuild the plugin against this trainer's headers)",
                                path, abi, TR_ABI_VERSION);
        }
        /* Fields every v1 plugin must fill; a smaller descriptor would be an
         * older minor version that lacks later (appended) fields. */
        const char *missing = d->size < offsetof(tr_plugin, predict) + sizeof d->predict ? "a complete descriptor (size too small)"
                            : !d->name || !*d->name ? "name"
                            : !d->version ? "version"
                            : !d->create ? "create()"
                            : !d->destroy ? "destroy()"
                            : !d->scratch_bytes ? "scratch_bytes()"
                            : !d->train ? "train()"
                            : !d->predict ? "predict()"
                            : (d->n_options > 0 && !d->options) ? "options"
                            : NULL;
        if (missing) {
            dlclose(h);
            return tr_error_set(err, TR_ERR_PLUGIN, "%s: plugin descriptor lacks %s", path, missing);
        }
    }
    if (sentry) {
        int abi = -1;
        const tr_scorer *const *list = sentry(&abi);
        if (abi != TR_ABI_VERSION) {
            dlclose(h);
            return tr_error_set(err, TR_ERR_ABI, "%s: attention scorers built for plugin ABI %d, this trainer speaks ABI %d (rebuild the plugin against this trainer's headers)",
                                path, abi, TR_ABI_VERSION);
        }
        for (const tr_scorer *const *s = list; s && *s; s++)
            if (!(*s)->name || !*(*s)->name) {
                dlclose(h);
                return tr_error_set(err, TR_ERR_PLUGIN, "%s: an exported attention scorer has no name", path);
            }
        out->scorers = list;
    }
    out->handle = h;
    out->desc = d;
    return TR_OK;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct names_ctx {
    char list[1024];
    const char *names[64];
    char store[64][64];
    int n;
} names_ctx;

static void collect(void *vctx, const char *path, const tr_plugin *d, const char *scorers, const tr_error *e)
{
    (void)path; (void)scorers; (void)e;
    names_ctx *c = vctx;
    if (!d || c->n >= 64)
        return;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->names[i], d->name) == 0)
            return;
    snprintf(c->store[c->n], sizeof c->store[c->n], "%s", d->name);
    c->names[c->n] = c->store[c->n];
    size_t l = strlen(c->list);
    snprintf(c->list + l, sizeof c->list - l, "%s%s", c->n ? ", " : "", d->name);
    c->n++;
}

/* The file for `name`: a path as is, else NAME.so in the search folders. */
static tr_status find_file(char *path, size_t size, const char *name, const char *config_dir, tr_error *err)
{
    if (strchr(name, '/')) {
        if (!is_file(name))
            return tr_error_set(err, TR_ERR_PLUGIN, "no plugin file '%s'", name);
        snprintf(path, size, "%s", name);
        return TR_OK;
    }
    const char *dirs[32];
    char storage[8192];
    int nd = tr_plugin_search_dirs(dirs, 32, storage, sizeof storage, config_dir);
    for (int i = 0; i < nd; i++) {
        snprintf(path, size, "%s/%s.so", dirs[i], name);
        if (is_file(path))
            return TR_OK;
    }
    char looked[2048] = "";
    for (int i = 0; i < nd; i++) {
        size_t l = strlen(looked);
        snprintf(looked + l, sizeof looked - l, "%s%s", i ? ", " : "", dirs[i]);
    }
    names_ctx c;
    memset(&c, 0, sizeof c);
    tr_plugin_scan(config_dir, collect, &c);
    const char *close = tr_did_you_mean(name, c.names, c.n);
    char hint[160] = "";
    if (close)
        snprintf(hint, sizeof hint, "; did you mean '%s'?", close);
    return tr_error_set(err, TR_ERR_PLUGIN, "no plugin '%s' (looked for %s.so in: %s; found: %s%s)",
                        name, name, looked, c.n ? c.list : "none", hint);
}

tr_status tr_plugin_open(tr_loaded_plugin *out, const char *name,
                         const char *config_dir, tr_error *err)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    tr_status st = find_file(path, sizeof path, name, config_dir, err);
    if (!st)
        st = open_file(out, path, 1, err);
    if (!st && (st = register_scorers(out, err)))
        tr_plugin_close(out);
    return st;
}

tr_status tr_plugin_open_scorers(tr_loaded_plugin *p, const char *list,
                                 const char *config_dir, tr_error *err)
{
    const char *sep = ", \t";
    tr_loaded_plugin **tail = &p->next;
    while (*tail)
        tail = &(*tail)->next;
    for (const char *s = list + strspn(list, sep); *s; s += strspn(s, sep)) {
        size_t l = strcspn(s, sep);
        char name[4096];
        snprintf(name, sizeof name, "%.*s", (int)l, s);
        s += l;
        char path[4096];
        tr_loaded_plugin *q = calloc(1, sizeof *q);
        if (!q)
            return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
        tr_status st = find_file(path, sizeof path, name, config_dir, err);
        if (!st)
            st = open_file(q, path, 0, err);
        if (!st && !q->scorers)
            st = tr_error_set(err, TR_ERR_PLUGIN, "%s: exports no attention scorers (no symbol '%s'; define it with TR_SCORERS_DEFINE)",
                              path, TR_SCORERS_ENTRY_NAME);
        if (!st)
            st = register_scorers(q, err);
        if (st) {
            tr_plugin_close(q);
            free(q);
            return st;
        }
        *tail = q;
        tail = &q->next;
    }
    return TR_OK;
}

void tr_plugin_close(tr_loaded_plugin *p)
{
    while (p->next) { /* the chain, last loaded first */
        tr_loaded_plugin **last = &p->next;
        while ((*last)->next)
            last = &(*last)->next;
        tr_plugin_close(*last);
        free(*last);
        *last = NULL;
    }
    for (int i = p->n_registered - 1; i >= 0; i--)
        release_scorer(p->scorers[i]);
    if (p->handle)
        dlclose(p->handle);
    memset(p, 0, sizeof *p);
}

void tr_plugin_scan(const char *config_dir, tr_plugin_visit_fn fn, void *ctx)
{
    const char *dirs[32];
    char storage[8192];
    int nd = tr_plugin_search_dirs(dirs, 32, storage, sizeof storage, config_dir);
    for (int i = 0; i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 4 || strcmp(e->d_name + l - 3, ".so") != 0)
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dirs[i], e->d_name);
            if (!is_file(path))
                continue;
            tr_loaded_plugin p;
            tr_error err = {0};
            if (open_file(&p, path, 0, &err) == TR_OK) {
                char names[512] = "";
                for (const tr_scorer *const *s = p.scorers; s && *s; s++) {
                    size_t k = strlen(names);
                    snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", (*s)->name);
                }
                /* desc and names are valid only during the call */
                fn(ctx, path, p.desc, p.scorers ? names : NULL, NULL);
                tr_plugin_close(&p);
            } else {
                fn(ctx, path, NULL, NULL, &err);
            }
        }
        closedir(d);
    }
}

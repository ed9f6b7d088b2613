/* core/plugin_loader.c - plugin search path, dlopen, ABI check. */
#define _GNU_SOURCE
#include "plugin_loader.h"
#include "config.h"

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
#define ADD(s, l)                                                   \
    do {                                                            \
        if (n < max && used + (l) + 1 <= size) {                    \
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
    /* Where this copy of libtrainer lives decides the rest: a build tree
     * searches its own plugin folder; an install searches
     * <libdir>/trainer/plugins next to the library, wherever the prefix
     * was moved to. */
    char self[4096] = "";
    Dl_info info;
    if (dladdr((void *)&tr_plugin_search_dirs, &info) && info.dli_fname)
        if (!realpath(info.dli_fname, self))
            snprintf(self, sizeof self, "%s", info.dli_fname);
    if (strncmp(self, TR_BUILD_DIR "/", strlen(TR_BUILD_DIR) + 1) == 0) {
        ADD(TR_BUILD_PLUGIN_DIR, strlen(TR_BUILD_PLUGIN_DIR));
    } else {
        char *slash = strrchr(self, '/');
        if (slash) {
            char dir[4200];
            int l = snprintf(dir, sizeof dir, "%.*s/trainer/plugins", (int)(slash - self), self);
            ADD(dir, (size_t)l);
        }
    }
    ADD(TR_INSTALL_PLUGIN_DIR, strlen(TR_INSTALL_PLUGIN_DIR));
#undef ADD
    return n;
}

/* dlopen + entry symbol + ABI check of one file. */
static tr_status open_file(tr_loaded_plugin *out, const char *path, tr_error *err)
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
    void *sym = dlsym(h, TR_PLUGIN_ENTRY_NAME);
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX allows */
    if (!entry) {
        dlclose(h);
        return tr_error_set(err, TR_ERR_PLUGIN, "%s: not a trainer plugin (no symbol '%s'; define it with TR_PLUGIN_DEFINE)",
                            path, TR_PLUGIN_ENTRY_NAME);
    }
    const tr_plugin *d = entry();
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

static void collect(void *vctx, const char *path, const tr_plugin *d, const tr_error *e)
{
    (void)path; (void)e;
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

tr_status tr_plugin_open(tr_loaded_plugin *out, const char *name,
                         const char *config_dir, tr_error *err)
{
    if (strchr(name, '/')) {
        if (!is_file(name))
            return tr_error_set(err, TR_ERR_PLUGIN, "no plugin file '%s'", name);
        return open_file(out, name, err);
    }
    const char *dirs[32];
    char storage[8192];
    int nd = tr_plugin_search_dirs(dirs, 32, storage, sizeof storage, config_dir);
    char path[4096];
    for (int i = 0; i < nd; i++) {
        snprintf(path, sizeof path, "%s/%s.so", dirs[i], name);
        if (is_file(path))
            return open_file(out, path, err);
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

void tr_plugin_close(tr_loaded_plugin *p)
{
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
            if (open_file(&p, path, &err) == TR_OK) {
                fn(ctx, path, p.desc, NULL); /* desc is valid only during the call */
                tr_plugin_close(&p);
            } else {
                fn(ctx, path, NULL, &err);
            }
        }
        closedir(d);
    }
}

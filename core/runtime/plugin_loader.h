/* core/runtime/plugin_loader.h - find, dlopen and check model plugins, and register
 * the attention scorers the libraries export.
 *
 * Search order for a plugin named N (file N.so): the config file's folder,
 * each folder of $TRAINER_PLUGIN_PATH (':'-separated), then the build's
 * plugin folder (when this libtrainer is the build tree's) or
 * <libdir>/trainer/plugins next to the installed libtrainer (wherever the
 * prefix was moved), then the install folder configured at build time.
 * Folders appear once. A name containing '/' is a path and is loaded as is.
 * The current directory is never searched implicitly. */
#ifndef TR_PLUGIN_LOADER_H
#define TR_PLUGIN_LOADER_H

#include "trainer/attention.h"
#include "trainer/plugin.h"

typedef struct tr_loaded_plugin {
    void *handle;
    const tr_plugin *desc;            /* NULL for a library that only exports scorers */
    char path[4096];
    const tr_scorer *const *scorers;  /* the library's TR_SCORERS_DEFINE list, or NULL */
    int n_registered;                 /* how many of them this handle registered */
    struct tr_loaded_plugin *next;    /* libraries tr_plugin_open_scorers() loaded; closed with this one */
} tr_loaded_plugin;

/* Loads model plugin `name` (config_dir may be NULL), checks its ABI and
 * descriptor, and registers the scorers it exports. */
tr_status tr_plugin_open(tr_loaded_plugin *out, const char *name,
                         const char *config_dir, tr_error *err);

/* Loads each library of `list` (names or paths, separated by commas and/or
 * blanks: model.scorer_plugins), found like a plugin, and registers the
 * scorers it exports; a library that exports none is an error. They stay
 * loaded until tr_plugin_close(p). */
tr_status tr_plugin_open_scorers(tr_loaded_plugin *p, const char *list,
                                 const char *config_dir, tr_error *err);

/* Removes the scorers registered through p (and its chain), unloads. */
void tr_plugin_close(tr_loaded_plugin *p);

/* Fills dirs (up to max) with the search folders in order; returns the count.
 * Strings are written into storage (size bytes). */
int tr_plugin_search_dirs(const char **dirs, int max, char *storage,
                          size_t size, const char *config_dir);

/* Calls fn for every *.so in the search folders: a model plugin with its
 * descriptor (valid only during the call), a library that only exports
 * scorers with desc NULL, and a file that fails to load with desc NULL and
 * the reason in err (else err is NULL). `scorers` names the scorers the
 * library exports ("a, b"), or is NULL. Nothing is registered. */
typedef void (*tr_plugin_visit_fn)(void *ctx, const char *path,
                                   const tr_plugin *desc, const char *scorers,
                                   const tr_error *err);
void tr_plugin_scan(const char *config_dir, tr_plugin_visit_fn fn, void *ctx);

#endif

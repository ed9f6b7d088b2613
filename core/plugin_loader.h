/* core/plugin_loader.h - find, dlopen and check model plugins.
 *
 * Search order for a plugin named N (file N.so): the config file's folder,
 * each folder of $TRAINER_PLUGIN_PATH (':'-separated), then the build's
 * plugin folder (when running from the build tree) or lib/trainer/plugins
 * next to the installed libtrainer, then the configured install folder. A name containing '/' is a path
 * and is loaded as is. The current directory is never searched implicitly. */
#ifndef TR_PLUGIN_LOADER_H
#define TR_PLUGIN_LOADER_H

#include "trainer/plugin.h"

typedef struct tr_loaded_plugin {
    void *handle;
    const tr_plugin *desc;
    char path[4096];
} tr_loaded_plugin;

/* config_dir may be NULL. */
tr_status tr_plugin_open(tr_loaded_plugin *out, const char *name,
                         const char *config_dir, tr_error *err);
void tr_plugin_close(tr_loaded_plugin *p);

/* Fills dirs (up to max) with the search folders in order; returns the count.
 * Strings are written into storage (size bytes). */
int tr_plugin_search_dirs(const char **dirs, int max, char *storage,
                          size_t size, const char *config_dir);

/* Calls fn for every *.so in the search folders that loads as a plugin
 * (desc valid only during the call); files that fail to load are reported
 * with desc NULL and the reason in err. */
typedef void (*tr_plugin_visit_fn)(void *ctx, const char *path,
                                   const tr_plugin *desc, const tr_error *err);
void tr_plugin_scan(const char *config_dir, tr_plugin_visit_fn fn, void *ctx);

#endif

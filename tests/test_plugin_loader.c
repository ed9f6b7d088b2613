/* tests/test_plugin_loader.c - finding, loading and refusing plugins. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "runtime/plugin_loader.h"
#include "tr_test.h"

static void finds_shipped_plugin_by_name(void)
{
    unsetenv("TRAINER_PLUGIN_PATH");
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_plugin_open(&p, "time_attn", NULL, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(p.desc->name, "time_attn");
    CU_ASSERT_EQUAL(p.desc->abi_version, TR_ABI_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(p.path, TR_BUILD_PLUGIN_DIR));
    tr_plugin_close(&p);
}

static void missing_plugin_lists_where_and_what(void)
{
    unsetenv("TRAINER_PLUGIN_PATH");
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, "time_atn", NULL, &err), TR_ERR_PLUGIN);
    printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no plugin 'time_atn'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, TR_BUILD_PLUGIN_DIR));   /* where it looked */
    const char *found = strstr(err.msg, "found: ");                /* what it found */
    CU_ASSERT_PTR_NOT_NULL_FATAL(found);
    CU_ASSERT_PTR_NOT_NULL(strstr(found, "time_attn"));
    CU_ASSERT_PTR_NOT_NULL(strstr(found, "nmt_gru"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "did you mean 'time_attn'"));
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
}

static void not_a_plugin_names_the_symbol(void)
{
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, TR_TEST_PLUGIN_DIR "/not_a_plugin.so", NULL, &err), TR_ERR_PLUGIN);
    printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not_a_plugin.so: not a trainer plugin"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, TR_PLUGIN_ENTRY_NAME));
}

static void abi_mismatch_names_both_versions(void)
{
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, TR_TEST_PLUGIN_DIR "/abi_future.so", NULL, &err), TR_ERR_ABI);
    printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "abi_future.so"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ABI 99"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ABI 1 "));
}

static void env_path_is_searched_first_after_config_dir(void)
{
    setenv("TRAINER_PLUGIN_PATH", "/nonexistent:" TR_TEST_PLUGIN_DIR, 1);
    const char *dirs[16];
    char store[4096];
    int n = tr_plugin_search_dirs(dirs, 16, store, sizeof store, "/cfg");
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_STRING_EQUAL(dirs[0], "/cfg");
    CU_ASSERT_STRING_EQUAL(dirs[1], "/nonexistent");
    CU_ASSERT_STRING_EQUAL(dirs[2], TR_TEST_PLUGIN_DIR);
    CU_ASSERT_STRING_EQUAL(dirs[3], TR_BUILD_PLUGIN_DIR);
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, "abi_future", NULL, &err), TR_ERR_ABI); /* found via the env path */
    unsetenv("TRAINER_PLUGIN_PATH");
}

static void current_directory_is_not_searched(void)
{
    unsetenv("TRAINER_PLUGIN_PATH");
    char old[4096];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(old, sizeof old));
    CU_ASSERT_EQUAL_FATAL(chdir(TR_TEST_PLUGIN_DIR), 0);
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, "abi_future", NULL, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no plugin 'abi_future'"));
    CU_ASSERT_EQUAL(chdir(old), 0);
}

static void missing_function_is_named(void)
{
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, TR_TEST_PLUGIN_DIR "/missing_train.so", NULL, &err), TR_ERR_PLUGIN);
    printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "missing_train.so: plugin descriptor lacks train()"));
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
}

static void folders_appear_once(void)
{
    setenv("TRAINER_PLUGIN_PATH", TR_TEST_PLUGIN_DIR ":" TR_TEST_PLUGIN_DIR ":" TR_BUILD_PLUGIN_DIR, 1);
    const char *dirs[16];
    char store[4096];
    int n = tr_plugin_search_dirs(dirs, 16, store, sizeof store, TR_TEST_PLUGIN_DIR);
    CU_ASSERT_EQUAL(n, 3); /* test dir, build plugin dir, install dir */
    CU_ASSERT_STRING_EQUAL(dirs[0], TR_TEST_PLUGIN_DIR);
    CU_ASSERT_STRING_EQUAL(dirs[1], TR_BUILD_PLUGIN_DIR);
    unsetenv("TRAINER_PLUGIN_PATH");
}

typedef struct seen {
    int template_scorers, scorer_only, broken, models;
} seen;

static void visit(void *ctx, const char *path, const tr_plugin *d, const char *scorers, const tr_error *e)
{
    seen *s = ctx;
    if (d) {
        s->models++;
        if (strcmp(d->name, "luong_attn") == 0 && scorers && strcmp(scorers, "cosine") == 0)
            s->template_scorers++;
        if (strcmp(d->name, "time_attn") == 0)
            CU_ASSERT_PTR_NULL(scorers);
    } else if (!e) {
        CU_ASSERT_PTR_NOT_NULL(strstr(path, "uniform_scorer.so") ? path : strstr(path, "scorer_clash.so"));
        s->scorer_only += scorers && (strcmp(scorers, "uniform") == 0 || strcmp(scorers, "dot") == 0);
    } else {
        s->broken++;
    }
}

/* Listing opens every library but registers nothing. */
static void scan_reports_scorers(void)
{
    setenv("TRAINER_PLUGIN_PATH", TR_TEST_PLUGIN_DIR, 1);
    seen s = {0};
    tr_plugin_scan(NULL, visit, &s);
    unsetenv("TRAINER_PLUGIN_PATH");
    CU_ASSERT_EQUAL(s.template_scorers, 1);
    CU_ASSERT_EQUAL(s.scorer_only, 2);
    CU_ASSERT_EQUAL(s.broken, 3); /* not_a_plugin, abi_future, missing_train */
    CU_ASSERT(s.models >= 5);     /* luong_attn, create_fails, nan_loss, time_attn, nmt_gru */
    const char *names[16];
    CU_ASSERT_EQUAL(tr_scorer_names(names, 16), 4);
}

static void missing_path_is_an_error(void)
{
    tr_loaded_plugin p;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_plugin_open(&p, "/nonexistent/x.so", NULL, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/x.so"));
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"finds the shipped plugin by name", finds_shipped_plugin_by_name},
        {"missing plugin lists where and what", missing_plugin_lists_where_and_what},
        {"not a plugin names the symbol", not_a_plugin_names_the_symbol},
        {"ABI mismatch names both versions", abi_mismatch_names_both_versions},
        {"search order", env_path_is_searched_first_after_config_dir},
        {"cwd is not searched", current_directory_is_not_searched},
        {"missing path", missing_path_is_an_error},
        {"missing function is named", missing_function_is_named},
        {"folders appear once", folders_appear_once},
        {"listing reports scorers, registers none", scan_reports_scorers},
        {NULL, NULL},
    };
    return tr_test_run("plugin_loader", cases);
}

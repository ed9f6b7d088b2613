/* tests/test_plugin_loader.c - finding, loading and refusing plugins. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plugin_loader.h"
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
        {NULL, NULL},
    };
    return tr_test_run("plugin_loader", cases);
}

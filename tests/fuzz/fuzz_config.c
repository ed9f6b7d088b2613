/* tests/fuzz/fuzz_config.c - the YAML run configuration with command-line
 * overrides: the input's first NUL-separated part is the file, each further
 * part (up to 8) one `key=value` override; a configuration that loads has its
 * model options bound to one option of every kind, as a plugin's would be. */
#include "fuzz.h"

static const tr_option_spec specs[] = {
    {"units", TR_OPT_INT, "32", "[1,4096]", "an int with a range"},
    {"rate", TR_OPT_FLOAT, "0.1", "[0,1)", "a float with a half-open range"},
    {"masked", TR_OPT_BOOL, "true", NULL, "a bool"},
    {"name", TR_OPT_STRING, "x", NULL, "a string"},
    {"cell", TR_OPT_ENUM, "lstm", "lstm|gru|rnn", "an enum"},
    {"depth", TR_OPT_INT, NULL, NULL, "a required int"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    uint8_t *yaml = NULL, *ov[8] = {0};
    fz_next_part(data, size, &at, &yaml);
    int n = 0;
    while (at < size && n < 8)
        fz_next_part(data, size, &at, &ov[n++]);
    const char *path = fz_write_text("config.yaml", (const char *)yaml);
    tr_config *cfg = NULL;
    tr_error err = {0};
    if (tr_config_load(&cfg, path, n, (char *const *)ov, &err) == TR_OK) {
        tr_option_value values[sizeof specs / sizeof specs[0]];
        tr_config_bind_options(cfg, specs, (int)(sizeof specs / sizeof specs[0]), values, &err);
        tr_config_free(cfg);
    } else {
        fz_check_error(&err);
    }
    free(yaml);
    for (int i = 0; i < n; i++)
        free(ov[i]);
    return 0;
}

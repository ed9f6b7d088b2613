/* tests/config_keys.c - prints every key the configuration accepts, for
 * tests/cli/config_docs.sh: "core SECTION KEY" for each key of the core's
 * schema, then "plugin NAME KEY" for each option of each plugin given.
 *
 *   config_keys [PLUGIN.so ...]
 */
#include "config/config.h"
#include "runtime/plugin_loader.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *section, *name;
    for (int i = 0; tr_config_schema_key(i, &section, &name); i++)
        printf("core %s %s\n", section, name);
    for (int a = 1; a < argc; a++) {
        tr_loaded_plugin p = {0};
        tr_error err = {0};
        if (tr_plugin_open(&p, argv[a], NULL, &err)) {
            fprintf(stderr, "config_keys: %s\n", err.msg);
            return 1;
        }
        for (int i = 0; i < p.desc->n_options; i++)
            printf("plugin %s %s\n", p.desc->name, p.desc->options[i].name);
        tr_plugin_close(&p);
    }
    return 0;
}

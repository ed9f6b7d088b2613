/* A plugin claiming a future ABI: must be refused naming both versions. */
#include "trainer/plugin.h"

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = 99,
    .name = "abi_future",
    .version = "9.9.9",
};

TR_PLUGIN_DEFINE(descriptor)

/* trainer/trainer.h - the public API in one include: the plugin ABI, the
 * parameter registry, the layers, status codes, and the CLI entry point. */
#ifndef TRAINER_TRAINER_H
#define TRAINER_TRAINER_H

#include "trainer/export.h"
#include "trainer/status.h"
#include "trainer/params.h"
#include "trainer/layers.h"
#include "trainer/scratch.h"
#include "trainer/recurrent.h"
#include "trainer/vision.h"
#include "trainer/plugin.h"
#include "trainer/attention.h"
#include "trainer/gradcheck.h"

TR_EXTERN_C_BEGIN

/* The `trainer` command line (train, predict, plugins); returns the exit
 * status: 0 ok, 1 runtime failure, 2 bad configuration or usage. */
TR_API int tr_main(int argc, char **argv);

TR_EXTERN_C_END

#endif

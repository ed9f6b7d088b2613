/* trainer/status.h - status codes and the error buffer every call reports into.
 *
 * Append-only: new codes go at the end, values never change. */
#ifndef TRAINER_STATUS_H
#define TRAINER_STATUS_H

#include <stddef.h>
#include "trainer/export.h"

TR_EXTERN_C_BEGIN

typedef enum tr_status {
    TR_OK = 0,
    TR_ERR_CONFIG = 1,   /* bad configuration or usage: exit 2 */
    TR_ERR_IO = 2,       /* a file could not be read or written */
    TR_ERR_DATA = 3,     /* a dataset is malformed */
    TR_ERR_PLUGIN = 4,   /* a plugin could not be found, loaded or used */
    TR_ERR_ABI = 5,      /* a plugin built for another ABI */
    TR_ERR_NOMEM = 6,    /* an allocation failed */
    TR_ERR_MODEL = 7,    /* a model call failed (plugin error, NaN loss) */
    TR_ERR_CHECKPOINT = 8, /* a checkpoint is missing, corrupt or mismatched */
    TR_ERR_INTERNAL = 9,
    TR_ERR_INTERRUPTED = 10, /* stopped by SIGTERM/SIGINT after saving a checkpoint */
} tr_status;

/* The message buffer handed to every call that can fail. The callee writes
 * one line, without a trailing newline, that says where and what. */
#define TR_ERROR_MAX 1024
typedef struct tr_error {
    tr_status status;
    char msg[TR_ERROR_MAX];
} tr_error;

TR_API const char *tr_status_str(tr_status s);

/* Sets err->status and err->msg (printf-style) and returns s. err may be NULL. */
TR_API tr_status tr_error_set(tr_error *err, tr_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Exit status the CLI uses for a status: 2 for configuration/usage errors
 * (including data, plugin and ABI problems found before training), 1 otherwise. */
TR_API int tr_status_exit_code(tr_status s);

TR_EXTERN_C_END

#endif

/* core/base/status.c - status strings and the one-line error buffer. */
#include "trainer/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *tr_status_str(tr_status s)
{
    switch (s) {
    case TR_OK: return "ok";
    case TR_ERR_CONFIG: return "configuration error";
    case TR_ERR_IO: return "I/O error";
    case TR_ERR_DATA: return "data error";
    case TR_ERR_PLUGIN: return "plugin error";
    case TR_ERR_ABI: return "plugin ABI mismatch";
    case TR_ERR_NOMEM: return "out of memory";
    case TR_ERR_MODEL: return "model error";
    case TR_ERR_CHECKPOINT: return "checkpoint error";
    case TR_ERR_INTERNAL: return "internal error";
    case TR_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

tr_status tr_error_set(tr_error *err, tr_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

int tr_status_exit_code(tr_status s)
{
    switch (s) {
    case TR_OK: return 0;
    case TR_ERR_CONFIG:
    case TR_ERR_DATA:
    case TR_ERR_PLUGIN:
    case TR_ERR_ABI:
    case TR_ERR_CHECKPOINT:
        return 2;
    default:
        return 1;
    }
}

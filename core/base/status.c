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

/* An error is one line, whatever the file it quotes holds: control
 * characters (a CR or a TAB in a dataset, found by fuzzing) are written as
 * C escapes. */
tr_status tr_error_set(tr_error *err, tr_status s, const char *fmt, ...)
{
    if (err) {
        char raw[TR_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        size_t o = 0;
        for (const unsigned char *c = (const unsigned char *)raw; *c && o + 5 < sizeof err->msg; c++) {
            if (*c >= 0x20 && *c != 0x7f)
                err->msg[o++] = (char)*c;
            else if (*c == '\n' || *c == '\r' || *c == '\t')
                o += (size_t)snprintf(err->msg + o, 3, "\\%c", *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't');
            else
                o += (size_t)snprintf(err->msg + o, 5, "\\x%02x", *c);
        }
        err->msg[o] = 0;
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

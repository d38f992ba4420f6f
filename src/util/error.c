/* error.c - wn_errprintf and friends (see winnow/error.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "winnow/error.h"

int wn_errprintf(wn_error_t *err, const char *fmt, ...)
{
    int saved = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
    }
    errno = saved;
    return -1;
}

int wn_errprefix(wn_error_t *err, const char *fmt, ...)
{
    int saved = errno;
    if (err) {
        char old[WN_ERROR_TEXT];
        memcpy(old, err->text, sizeof(old));
        old[sizeof(old) - 1] = '\0';
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
        /* Append ": old" to what fits; a cut message still reads well. */
        size_t used = n < 0 ? 0 : (size_t)n;
        if (used < sizeof(err->text) - 3) {
            memcpy(err->text + used, ": ", 2);
            size_t room = sizeof(err->text) - used - 3;
            size_t len = strlen(old);
            if (len > room)
                len = room;
            memcpy(err->text + used + 2, old, len);
            err->text[used + 2 + len] = '\0';
        }
    }
    errno = saved;
    return -1;
}

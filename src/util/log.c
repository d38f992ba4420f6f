/* log.c - see log.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

static int log_rank = -1;
static int log_level = -1;

void wn_log_set_rank(int rank)
{
    log_rank = rank;
}

void wn_log_set_level(enum wn_log_level level)
{
    log_level = (int)level;
}

void wn_log(enum wn_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (log_level < 0) {
        const char *d = getenv("WINNOW_DEBUG");
        log_level = (d && *d && *d != '0') ? WN_LOG_DEBUG : WN_LOG_INFO;
    }
    if ((int)level > log_level)
        return;
    char line[2048];
    int n;
    if (log_rank >= 0)
        n = snprintf(line, sizeof(line), "winnow[%d]: %s: ", log_rank, names[level]);
    else
        n = snprintf(line, sizeof(line), "winnow: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per message so lines from different ranks do not mix. */
    fprintf(stderr, "%s\n", line);
}

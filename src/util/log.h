/* log.h - messages for people: to stderr, prefixed with the program and
 * rank so interleaved output from many ranks in a Slurm file stays
 * readable. */
#ifndef WN_LOG_H
#define WN_LOG_H

#include "winnow/log.h" /* enum wn_log_level: stages log too */

/* Sets the rank shown in the prefix (-1: none, before MPI is up). */
void wn_log_set_rank(int rank);
/* Messages above this level are dropped (default INFO; WINNOW_DEBUG=1
 * in the environment raises it to DEBUG). */
void wn_log_set_level(enum wn_log_level level);

void wn_log(enum wn_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wn_error(...) wn_log(WN_LOG_ERROR, __VA_ARGS__)
#define wn_warn(...) wn_log(WN_LOG_WARN, __VA_ARGS__)
#define wn_info(...) wn_log(WN_LOG_INFO, __VA_ARGS__)
#define wn_debug(...) wn_log(WN_LOG_DEBUG, __VA_ARGS__)

#endif /* WN_LOG_H */

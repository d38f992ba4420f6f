/* winnow/error.h - how every winnow function reports failure.
 *
 * The one rule for return values, for the whole public API:
 *   - functions returning int return 0 on success and -1 on failure;
 *   - functions returning a pointer return NULL on failure;
 *   - on failure errno is set, and when the function takes a wn_error_t *
 *     (always the last argument, may be NULL) its text says what went
 *     wrong in words a user can act on (file:line, stage, key, rank).
 */
#ifndef WINNOW_ERROR_H
#define WINNOW_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define WN_ERROR_TEXT 512

typedef struct {
    char text[WN_ERROR_TEXT];
} wn_error_t;

/* Formats into err (if not NULL) and returns -1, so a failing path is
 * `return wn_errprintf(err, "stage %s: unknown key '%s'", ...);`.
 * errno is preserved across the call. */
int wn_errprintf(wn_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes existing text: "context: <old text>". Returns -1. */
int wn_errprefix(wn_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_ERROR_H */

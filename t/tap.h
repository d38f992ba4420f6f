/* t/tap.h - a minimal TAP producer for winnow's C unit tests.
 *
 * Header-only so every test program is one translation unit:
 *
 *   plan(3);            or  plan(NO_PLAN) ... done_testing();
 *   ok(x == 1, "x is one");
 *   is(str, "abc", "string matches");
 *   cmp_ok(a, ==, b, "a equals b");   (integers, printed as long long)
 *   skip(n, "why");     diag("fmt %d", v);   BAIL_OUT("why");
 *
 * Output goes to stdout (automake's TAP driver reads it); diagnostics to
 * stderr prefixed with '#'.  The exit status is non-zero when any point
 * failed or the plan was not met, so a crash or early exit is a failure.
 */
#ifndef WN_TAP_H
#define WN_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_PLAN (-1)

static int tap_planned = -2; /* -2: no plan yet, -1: no_plan, else count */
static int tap_run;
static int tap_failed;

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static inline void plan(int n)
{
    tap_planned = n;
    if (n >= 0)
        printf("1..%d\n", n);
    fflush(stdout);
}

static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_run++;
    printf("%sok %d - ", cond ? "" : "not ", tap_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (!cond) {
        tap_failed++;
        diag("  failed at %s:%d", file, line);
    }
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is(got, want, ...)                                                                \
    do {                                                                                  \
        const char *tap_g_ = (got), *tap_w_ = (want);                                     \
        int tap_c_ = (tap_g_ && tap_w_) ? strcmp(tap_g_, tap_w_) == 0 : tap_g_ == tap_w_; \
        if (!tap_ok(tap_c_, __FILE__, __LINE__, __VA_ARGS__))                             \
            diag("  got: '%s'\n#  expected: '%s'", tap_g_ ? tap_g_ : "(null)",            \
                 tap_w_ ? tap_w_ : "(null)");                                             \
    } while (0)

#define cmp_ok(a, op, b, ...)                                           \
    do {                                                                \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);     \
        if (!tap_ok(tap_a_ op tap_b_, __FILE__, __LINE__, __VA_ARGS__)) \
            diag("  %lld " #op " %lld is false", tap_a_, tap_b_);       \
    } while (0)

static inline void skip(int n, const char *why)
{
    for (int i = 0; i < n; i++) {
        tap_run++;
        printf("ok %d # SKIP %s\n", tap_run, why);
    }
    fflush(stdout);
}

static inline void skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    fflush(stdout);
    exit(0);
}

#define BAIL_OUT(...)         \
    do {                      \
        printf("Bail out! "); \
        printf(__VA_ARGS__);  \
        putchar('\n');        \
        fflush(stdout);       \
        exit(255);            \
    } while (0)

/* Prints the trailing plan for NO_PLAN and returns the exit status. */
static inline int done_testing(void)
{
    if (tap_planned == -1 || tap_planned == -2)
        printf("1..%d\n", tap_run);
    else if (tap_planned != tap_run) {
        diag("planned %d tests but ran %d", tap_planned, tap_run);
        tap_failed++;
    }
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

#endif /* WN_TAP_H */

/* env.h - winnow's environment variables: one prefix, WINNOW_.  The
 * names some had before (WINNOW_ARENA_MB, WINNOW_MINHASH_ISA,
 * WINNOW_TEST_BATCH_DELAY_MS) still work, with a warning once. */
#ifndef WN_ENV_H
#define WN_ENV_H

/* WINNOW_<name>, else the old WN_<name> (warned about once), else NULL. */
const char *wn_getenv(const char *name);

#endif /* WN_ENV_H */

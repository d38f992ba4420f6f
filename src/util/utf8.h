/* utf8.h - text made valid UTF-8 by the rule of wn_utf8_len
 * (winnow/task.h): each byte that starts no valid sequence becomes
 * U+FFFD.  File names and stages' messages need not be UTF-8; a JSON
 * string must be. */
#ifndef WN_UTF8_H
#define WN_UTF8_H

#include <stddef.h>

/* A copy of s, made valid: malloc'd, NULL when out of memory. */
char *wn_utf8_clean(const char *s);

/* wn_json_quote is public (winnow/task.h): the writer stages need it. */
#include "winnow/task.h"

#endif /* WN_UTF8_H */

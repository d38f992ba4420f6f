/* utf8.h - text made valid UTF-8 by the rule of wn_utf8_len
 * (winnow/task.h): each byte that starts no valid sequence becomes
 * U+FFFD.  File names and stages' messages need not be UTF-8; a JSON
 * string must be. */
#ifndef WN_UTF8_H
#define WN_UTF8_H

#include <stddef.h>

/* A copy of s, made valid: malloc'd, NULL when out of memory. */
char *wn_utf8_clean(const char *s);

/* s (n bytes) as a JSON string, quoted and escaped ('"', '\\' and control
 * bytes), made valid: malloc'd, NULL when out of memory. */
char *wn_json_quote(const char *s, size_t n);

#endif /* WN_UTF8_H */

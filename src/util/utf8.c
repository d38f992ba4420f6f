/* utf8.c - the UTF-8 rule (see winnow/task.h: wn_utf8_len), and text
 * made valid with it (see utf8.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "winnow/task.h"

size_t wn_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : lo; /* no overlong forms */
        hi = c == 0xed ? 0x9f : hi; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : lo; /* no overlong forms */
        hi = c == 0xf4 ? 0x8f : hi; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

char *wn_utf8_clean(const char *s)
{
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(3 * n + 1), *o = out;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; out && i < n;) {
        size_t k = wn_utf8_len(u + i, n - i);
        memcpy(o, k ? s + i : "\xef\xbf\xbd", k ? k : 3);
        o += k ? k : 3;
        i += k ? k : 1;
    }
    if (out)
        *o = '\0';
    return out;
}

char *wn_json_quote(const char *s, size_t n)
{
    /* At worst 6 bytes ("\u00XX") per input byte, or 3 (U+FFFD). */
    if (n > (SIZE_MAX - 3) / 6)
        return NULL;
    char *out = malloc(6 * n + 3), *o = out;
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
        } else if (c < 0x20) {
            static const char esc[] = "btn\0fr";
            if (c >= 8 && c <= 13 && c != 11) {
                *o++ = '\\';
                *o++ = esc[c - 8];
            } else
                o += sprintf(o, "\\u%04x", c);
            i++;
        } else {
            size_t k = wn_utf8_len(u + i, n - i);
            if (k) {
                memcpy(o, u + i, k);
                o += k;
                i += k;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            }
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

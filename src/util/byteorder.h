/* byteorder.h - loads and stores of little-endian integers at any
 * alignment, for winnow's binary formats: the task wire format, the
 * checkpoint's files and journal, the input listing.  Each is packed
 * little-endian, and a received or read buffer may sit anywhere. */
#ifndef WN_BYTEORDER_H
#define WN_BYTEORDER_H

#include <stdint.h>
#include <string.h>

/* The loads and stores are plain copies: right on little-endian targets
 * only, which every target winnow runs on is. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "winnow's binary formats are little-endian; this target is not"
#endif

static inline uint64_t wn_ld64_(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t wn_ld32_(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void wn_st64_(void *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static inline void wn_st32_(void *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

#endif /* WN_BYTEORDER_H */

/* spill.h - a file of payloads the store moved out of memory.
 *
 * One file per stage on each rank (the store opens them), on node-local
 * scratch: executor.spill_dir.  A record is a 32-byte header (magic, id,
 * length, the XXH3 of the bytes) and the payload, at an offset the store
 * chose; a read checks all four, so a payload that changed on disk is
 * never used.  The file is removed from its folder as soon as it is
 * made, so that it goes with the last descriptor: when the store closes
 * it, or when the kernel ends a killed rank.
 */
#ifndef WN_SPILL_H
#define WN_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

struct wn_spill;

/* Creates DIR/winnow-spill-<pid>-r<RANK>-s<STAGE> (exclusive, then
 * unlinked; messages still name it), or NULL. */
struct wn_spill *wn_spill_open(const char *dir, int rank, uint32_t stage, wn_error_t *err);
/* Closes the file: its space goes back to the disk. */
void wn_spill_close(struct wn_spill *f);

/* Bytes a record of a LEN-byte payload takes (64-byte aligned). */
uint64_t wn_spill_record_size(size_t len);
/* Writes the record at OFF (reserved by the caller). */
int wn_spill_write(struct wn_spill *f, uint64_t off, uint64_t id, const void *buf, size_t len,
                   wn_error_t *err);
/* The payload back in a 64-byte aligned malloc'd buffer, after its header
 * and checksum are checked; NULL with err naming the file and offset. */
void *wn_spill_read(struct wn_spill *f, uint64_t off, uint64_t id, size_t len, wn_error_t *err);

#endif /* WN_SPILL_H */

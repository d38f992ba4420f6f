/* jsonl_io.h - JSON Lines files for the document stages: the run's input
 * listing (read_jsonl, remove_duplicates, write_jsonl share it, as a
 * document id holds its file's index in it), a line reader that checks
 * its file is still the one listed, and an atomic writer for plain, gzip
 * and zstd files.  Internal to stages/. */
#ifndef WN_JSONL_IO_H
#define WN_JSONL_IO_H

#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>
#include <zstd.h>

#include "winnow/error.h"
#include "winnow/file.h"
#include "winnow/stage.h"

/* A document id (_curator_dedup_id) is file index << 40 | line number. */
#define WN_JL_LINE_BITS 40
#define WN_JL_MAX_LINE ((UINT64_C(1) << WN_JL_LINE_BITS) - 1)
#define WN_JL_MAX_FILES (UINT64_C(1) << (64 - WN_JL_LINE_BITS))

/* The name's ending picks it: .gz gzip, .zst zstd, anything else plain. */
enum wn_jl_comp { WN_JL_PLAIN, WN_JL_GZIP, WN_JL_ZSTD };
enum wn_jl_comp wn_jl_comp_of(const char *path);

struct wn_stage;

struct wn_jl_file {
    const char *path; /* the run's listing's */
    uint64_t size;    /* on disk, when listed */
    enum wn_jl_comp comp;
    size_t index;                 /* in the listing */
    const struct wn_stage *stage; /* that listed it */
};

struct wn_jl_list {
    struct wn_jl_file *files;
    size_t n;
};

/* The run's input listing (wn_stage_list_inputs) of `input`: a directory
 * searched recursively for *.jsonl, *.jsonl.gz, *.jsonl.zst; a glob
 * pattern; or one file, sorted bytewise by path; at least one file. */
int wn_jl_list_inputs(struct wn_stage *st, const char *input, struct wn_jl_list *l,
                      wn_error_t *err);
void wn_jl_list_free(struct wn_jl_list *l);

/* The value of the top-level member `key` of the JSON object in line[0,n)
 * as written there (its JSON text: a string with its quotes and escapes,
 * a number digit for digit): 1 with *val, *len, or 0 when the line is no
 * object, has no such member or is malformed.  Of repeated keys the last
 * counts, as in jansson's parse. */
int wn_jl_member(const char *line, size_t n, const char *key, const char **val, size_t *len);

/* path relative to input, for output layouts: below the directory when
 * input is one, below the directory part before the first wildcard when
 * it is a pattern, else the file's base name.  Points into path. */
const char *wn_jl_relpath(const char *input, const char *path);

/* One open input file, decompressed into buf: bytes [pos, len) are not
 * returned yet, and [pos, scan) of them are known to hold no '\n'. */
struct wn_jl_reader {
    const struct wn_jl_file *file;
    int fd; /* plain and zstd */
    gzFile gz;
    ZSTD_DCtx *zd;
    void *zbuf; /* compressed bytes read */
    size_t zbuf_cap;
    ZSTD_inBuffer zin;
    size_t zret; /* 0 only at the end of a frame */
    char *buf;
    size_t cap, pos, len, scan;
    int eof;
    uint64_t line; /* of the last line returned */
    int ranged;    /* plain, reading one range: left bytes remain */
    uint64_t left;
};

int wn_jl_reader_open(struct wn_jl_reader *r, const struct wn_jl_file *f, wn_error_t *err);
/* The next line (without its '\n', valid until the next call) in *line and
 * *n: 1, or 0 at the end of the file, or -1 on error.  Lines are split at
 * '\n'; a last line without one counts too; r->line is its number (from 1). */
int wn_jl_reader_line(struct wn_jl_reader *r, const char **line, size_t *n, wn_error_t *err);
void wn_jl_reader_close(struct wn_jl_reader *r); /* also after a failed open */

/* Bytes [off, off + len) of a plain file, whose first line is number
 * `line` (from 1): a piece of a file read as one task. */
struct wn_jl_range {
    uint64_t off, len, line;
};

/* Cuts plain file f into ranges of at least blocksize bytes (the last may
 * be shorter), each ending just after a '\n' (the file's last one may end
 * without), so a line crossing a cut belongs to the range where it
 * starts, and a line longer than blocksize is a range by itself.  One
 * pass of memchr over the file counts the lines, so each range's first
 * line number is known before any is read.  An empty file is one empty
 * range.  *ranges is malloc'd.  Returns 0, or -1 (err names the file). */
int wn_jl_cut(const struct wn_jl_file *f, uint64_t blocksize, struct wn_jl_range **ranges,
              size_t *n, wn_error_t *err);
/* wn_jl_reader_open for range rg of plain file f: lines numbered from
 * rg->line, the end of the range read as the end of the file. */
int wn_jl_reader_open_range(struct wn_jl_reader *r, const struct wn_jl_file *f,
                            const struct wn_jl_range *rg, wn_error_t *err);

/* The bytes of text file f holds, estimated without decompressing: a
 * plain file's size; a zstd file's first frame's content size times the
 * file's size over that frame's (when the frame header holds it; scaled
 * only when the frame ends within the first 64 KiB); a gzip
 * file's last member's ISIZE trailer (its size mod 2^32, taken up to the
 * next value at least the file's size); else WN_JL_RATIO times the size on
 * disk.  Grouping uses it, so a small compressed file holding much text
 * is not a small task. */
#define WN_JL_RATIO 4
uint64_t wn_jl_text_size(const struct wn_jl_file *f);

/* An output file written under a temporary name in its directory (made
 * when missing) and renamed over `path` by commit after an fsync
 * (winnow/file.h), so a reader (or a resumed run) sees the old file or
 * the whole new one. */
struct wn_jl_writer {
    char *path;
    struct wn_afile *file;
    enum wn_jl_comp comp;
    gzFile gz;
    ZSTD_CCtx *zc;
    char *zbuf;
    size_t zcap;
    uint64_t bytes; /* uncompressed, written so far */
};

int wn_jl_writer_open(struct wn_jl_writer *w, const char *path, wn_error_t *err);
int wn_jl_writer_write(struct wn_jl_writer *w, const void *data, size_t n, wn_error_t *err);
int wn_jl_writer_commit(struct wn_jl_writer *w, wn_error_t *err);
/* Removes the temporary file; after commit (or a failed open) it only frees. */
void wn_jl_writer_abort(struct wn_jl_writer *w);

#endif /* WN_JSONL_IO_H */

/* fsio.h - file helpers shared by the runner's writers and readers
 * (checkpoint files, the journal, the lock file, the input listing):
 * whole reads and writes, folders, and what a user needs to read when a
 * write fails for room (the free space left).  Writing a whole file in
 * place is winnow/file.h's (wn_afile_*, in afile.c), public since the
 * writer stages need it too, as is wn_mkdir_parent (here). */
#ifndef WN_FSIO_H
#define WN_FSIO_H

#include <stddef.h>
#include <sys/types.h>

#include "winnow/error.h"
#include "winnow/file.h"

/* Writes all len bytes at fd's offset (short writes and EINTR retried):
 * 0, or -1 with errno (ENOSPC when the file system is full). */
int wn_write_all(int fd, const void *buf, size_t len);

/* Reads up to len bytes at fd's offset, stopping early only at the end of
 * the file: the count read, or -1 with errno. */
ssize_t wn_read_all(int fd, void *buf, size_t len);
/* The same at offset off (pwrite/pread: fd's offset stays). */
int wn_pwrite_all(int fd, const void *buf, size_t len, off_t off);
ssize_t wn_pread_all(int fd, void *buf, size_t len, off_t off);

/* The whole file open on fd, from its current offset (its size from
 * fstat; a file cut meanwhile gives fewer bytes, in *len), in a buffer of
 * *len + 1 bytes ending with a NUL for text: free() it.  NULL with errno
 * (ENOMEM, or the read's). */
void *wn_read_fd(int fd, size_t *len);

/* The whole regular file at path, as wn_read_fd: NULL with errno and err
 * "PATH: <strerror>", "PATH: not a regular file" (EBADMSG) or
 * "PATH: out of memory reading N bytes". */
void *wn_read_file(const char *path, size_t *len, wn_error_t *err);

/* "12.3 KiB free on its file system" for the file system holding path
 * (its folder when path does not exist yet), or "free space unknown". */
void wn_free_space(const char *path, char *buf, size_t len);

/* A byte count for people: "512 B", "12.0 KiB", "3.4 MiB", "1.2 GiB". */
void wn_human_bytes(unsigned long long n, char *buf, size_t len);

/* mkdir -p (mode 0755 before the umask): 0, or -1 naming the directory
 * that could not be made.  For the checkpoint and the output directory;
 * wn_mkdir_parent (winnow/file.h) makes the folder of a file. */
int wn_mkdir_p(const char *path, wn_error_t *err);

#endif /* WN_FSIO_H */

/* lock.h - one run at a time in a folder (the checkpoint, the output).
 *
 * The lock is a POSIX record lock (fcntl F_SETLK) on a file in the
 * folder, which the kernel releases when the holding process dies, also
 * over NFS.  The file says who holds it, "HOST PID SINCE" (SINCE in
 * seconds since the epoch), written once the lock is taken and emptied
 * when it is released, so a file that still names a holder while the
 * lock is free was left by a run that was killed.  The file is never
 * removed: removing it would race with a second run opening it.
 *
 * On a file system without record locks (fcntl fails with ENOLCK,
 * ENOSYS, EOPNOTSUPP or EINVAL) the file's content decides: a holder on
 * this host whose process is alive keeps the folder, a dead one's lock is
 * taken over, and a holder on another host is trusted (the user is told
 * to remove the file if that run is gone).  Two runs starting in the same
 * instant can then both win: the fallback is best effort.
 *
 * POSIX record locks belong to the process: closing any descriptor of the
 * lock file in the holding process drops the lock, so nothing else in it
 * may open that file.
 */
#ifndef WN_LOCK_H
#define WN_LOCK_H

#include "winnow/error.h"

struct wn_lock;

/* Takes the lock of folder dir through its file dir/name.  what names the
 * folder in messages ("checkpoint", "output folder").  A folder held by
 * another live run is refused (NULL, errno EBUSY), the message naming the
 * holder's pid and host and since when; a stale lock is taken over with a
 * warning naming the dead holder. */
struct wn_lock *wn_lock_take(const char *dir, const char *name, const char *what, wn_error_t *err);

/* Empties the lock file and releases the lock (NULL: nothing). */
void wn_lock_release(struct wn_lock *lock);

#endif /* WN_LOCK_H */

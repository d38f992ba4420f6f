/* xalloc.h - the control plane's allocation policy.
 *
 * The planner, the actors and the event loop keep small bookkeeping
 * (descriptors, queues, control messages).  A rank that cannot allocate
 * it cannot go on, and must not leave its peers waiting on it either: it
 * says where it ran out and aborts the job (MPI_Abort, exit 1).  The
 * checkpoint stays as its last durable record left it (journal records
 * are single writes, part files appear by rename), so the same command
 * resumes.  Memory sized by the corpus (task payloads, stage buffers,
 * shuffle chunks) is a checked error instead: the batch that cannot get
 * it fails, and is retried.
 */
#ifndef WN_XALLOC_H
#define WN_XALLOC_H

#include <stddef.h>

void *wn_xmalloc_at(size_t n, const char *file, int line);
void *wn_xcalloc_at(size_t n, size_t size, const char *file, int line);
void *wn_xrealloc_at(void *p, size_t n, const char *file, int line);

#define wn_xmalloc(n) wn_xmalloc_at((n), __FILE__, __LINE__)
#define wn_xcalloc(n, size) wn_xcalloc_at((n), (size), __FILE__, __LINE__)
#define wn_xrealloc(p, n) wn_xrealloc_at((p), (n), __FILE__, __LINE__)

#endif /* WN_XALLOC_H */

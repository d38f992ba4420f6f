/* failrename.c - LD_PRELOAD shim for tests: rename() fails with EIO when
 * the target path contains $WN_TEST_FAIL_RENAME, as a full or failing
 * disk would make it fail.  Everything else goes to the real rename(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    const char *pat = getenv("WN_TEST_FAIL_RENAME");
    if (pat && *pat && to && strstr(to, pat)) {
        errno = EIO;
        return -1;
    }
    if (!real)
        real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    return real(from, to);
}

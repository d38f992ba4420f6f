/* env.c - see env.h. */
#include <stdio.h>
#include <stdlib.h>

#include "util/env.h"
#include "util/log.h"

const char *wn_getenv(const char *name)
{
    char now[128], old[128];
    snprintf(now, sizeof(now), "WINNOW_%s", name);
    snprintf(old, sizeof(old), "WN_%s", name);
    const char *v = getenv(now);
    if (v)
        return v;
    if ((v = getenv(old)))
        wn_warn("%s is the old name of %s; it still works, but set %s", old, now, now);
    return v;
}

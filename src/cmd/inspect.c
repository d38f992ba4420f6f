/* inspect.c - `winnow inspect FILE.h5...`: the tasks and columns of
 * checkpoint part files, each verified against its checksum.  No MPI. */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "util/log.h"
#include "ckpt/part.h"

int wn_cmd_inspect(int argc, char **argv)
{
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: winnow inspect FILE.h5...\n"
                   "Prints each checkpoint part file's stage, batch and tasks, and each\n"
                   "task's columns (name, type, rows, bytes), after checking the file's\n"
                   "checksum.  Exit status 1 when a file is unreadable or corrupt.\n");
            return WN_EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            wn_error("inspect: unknown option '%s'", argv[i]);
            return WN_EXIT_USAGE;
        }
        nfiles++;
    }
    if (!nfiles) {
        wn_error("inspect: name at least one part file (winnow inspect --help)");
        return WN_EXIT_USAGE;
    }
    int status = WN_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        wn_error_t err = {{0}};
        if (wn_part_describe(stdout, argv[i], &err) < 0) {
            wn_error("%s", err.text);
            status = WN_EXIT_FAILURE;
        }
    }
    return status;
}

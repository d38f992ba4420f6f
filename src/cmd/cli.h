/* cli.h - the winnow subcommands (one file each under src/cmd/). */
#ifndef WN_CLI_H
#define WN_CLI_H

#include "util/exit.h"

/* Starts MPI (or runs alone) and sets the log prefix; returns 0 or -1. */
int wn_mpi_start(int *argc, char ***argv);
void wn_mpi_stop(void);

int wn_cmd_info(int argc, char **argv);
int wn_cmd_run(int argc, char **argv);
int wn_cmd_plan(int argc, char **argv);
int wn_cmd_stages(int argc, char **argv);
int wn_cmd_inspect(int argc, char **argv);
int wn_cmd_status(int argc, char **argv);
int wn_cmd_halt(int argc, char **argv);

#endif /* WN_CLI_H */

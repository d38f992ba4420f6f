/* main.c - `winnow`: command-line entry point.
 *
 * Subcommands that touch ranks (info, run) start MPI; --help, --version
 * and the offline tools do not, so they work on a login node too.
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "builtin.h"
#include "cmd/cli.h"
#include "stage/stage_impl.h"
#include "build-config.h"
#include "util/log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: winnow [--help] [--version] COMMAND [ARGS...]\n"
            "\n"
            "Runs data-curation pipelines on MPI ranks: alone, under mpirun, or under\n"
            "srun in a Slurm allocation.\n"
            "\n"
            "Commands:\n"
            "  run FILE    run a pipeline (YAML); rank 0 plans, the other ranks are actors:\n"
            "              winnow run FILE | mpirun -np 4 winnow run FILE |\n"
            "              srun --mpi=pmix winnow run FILE   (winnow run --help for options)\n"
            "  plan FILE   print the resolved pipeline and its plan (actors, batches)\n"
            "              without running it\n"
            "  stages      list the built-in stage types and their parameters\n"
            "  status DIR  a checkpoint: per stage batches done, part files, bytes; resumable?\n"
            "  halt DIR [--after-stage NAME]\n"
            "              stop the run using checkpoint DIR at its next batch boundary (or\n"
            "              after stage NAME), checkpointed: it exits 3 and resumes when rerun\n"
            "  inspect FILE.h5...\n"
            "              the tasks and columns of checkpoint part files (checksums checked)\n"
            "  info        every rank reports its place (node, local rank, CPUs, GPU);\n"
            "              rank 0 prints the layout. Run it the way you run a pipeline:\n"
            "              winnow info | mpirun -np 4 winnow info | srun --mpi=pmix winnow info\n"
            "\n"
            "Options:\n"
            "  -h, --help     this text\n"
            "  -V, --version  version and the features compiled in\n"
            "\n"
            "Exit status: 0 done, 1 failed, 2 usage or launch error,\n"
            "3 stopped early and checkpointed (run the same command again to resume).\n"
            "See winnow(1).\n");
}

static void version(void)
{
    printf("winnow %s\nfeatures: %s\n", PACKAGE_VERSION, WN_FEATURES);
}

int main(int argc, char **argv)
{
    wn_registry_set_builtins(wn_builtin_stages);
    if (argc < 2) {
        usage(stderr);
        return WN_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return WN_EXIT_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        version();
        return WN_EXIT_OK;
    }
    if (!strcmp(cmd, "info"))
        return wn_cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return wn_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan"))
        return wn_cmd_plan(argc - 1, argv + 1);
    if (!strcmp(cmd, "stages"))
        return wn_cmd_stages(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect"))
        return wn_cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "status"))
        return wn_cmd_status(argc - 1, argv + 1);
    if (!strcmp(cmd, "halt"))
        return wn_cmd_halt(argc - 1, argv + 1);
    wn_error("unknown command '%s' (try 'winnow --help')", cmd);
    return WN_EXIT_USAGE;
}

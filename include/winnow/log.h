/* winnow/log.h - how loud a message is.
 *
 * Messages go to stderr, one line each, prefixed "winnow[RANK]: LEVEL: "
 * so that lines from many ranks in one Slurm output file stay readable.
 * A stage writes them with wn_stage_log (winnow/stage.h).  DEBUG lines
 * show only with WINNOW_DEBUG=1 in the environment.
 */
#ifndef WINNOW_LOG_H
#define WINNOW_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/* The numbers are part of the ABI: never renumber. */
enum wn_log_level { WN_LOG_ERROR, WN_LOG_WARN, WN_LOG_INFO, WN_LOG_DEBUG };

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_LOG_H */

/* A run's report (docs/pipeline.md#outputs): run_dir/metrics.jsonl assembled from the stages'
 * record files, PNG plots drawn with gnuplot (loss curves; reward distribution and kept fraction
 * per EM round; validation metrics per round), and the closing table printed on rank 0. */
#ifndef RESTPG_LAUNCH_REPORT_H
#define RESTPG_LAUNCH_REPORT_H

#include "core/error.h"
#include "launch/pipeline.h"

/* Rank 0. Reads run_dir's records (em/round<t>/estep.json, em/round<t>/val/eval.json,
 * eval/eval.json, metrics/STAGE.jsonl), writes metrics.jsonl and plots/NAME.png, fills res's
 * validation fields and prints the summary. A missing gnuplot is a warning, not an error. */
int report_write(const char *run_dir, int rounds, PipelineResult *res, Error *e);

/* Runs gnuplot on a script file (argv, no shell); RP_EIO with its exit status on failure. */
int report_gnuplot(const char *script, Error *e);

#endif

/* Named groups of config settings (`restpg run --preset NAME`, docs/pipeline.md#presets): applied
 * over the defaults, before the config file and the overrides, so either can still change any of
 * them. Every setting carries where its value comes from, printed when the preset is used.
 *   demo   the 2-core CPU demo (`restpg demo` applies it);
 *   paper  the REST-PG paper's family of settings, sized for GPU clusters. */
#ifndef RESTPG_LAUNCH_PRESETS_H
#define RESTPG_LAUNCH_PRESETS_H

#include "core/error.h"
#include "launch/config.h"

/* Applies preset `name` to c, logging each setting with its source (rank 0). RP_EINPUT naming the
 * known presets for another name. */
int preset_apply(RunConfig *c, const char *name, Error *e);

/* The presets' names, comma-separated, for help texts. */
#define PRESET_NAMES "demo, paper"

/* Logs what preset_apply would set, after a config is final: warnings a preset attaches to the
 * final config (the paper preset without a pretrained model.init, or on the CPU). */
void preset_check_final(const RunConfig *c, const char *name);

#endif

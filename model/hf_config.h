/* config.json <-> ModelConfig (model/hf_dir.h's importer and exporter; the keys per family are listed
 * in docs/models.md). */
#ifndef RESTPG_MODEL_HF_CONFIG_H
#define RESTPG_MODEL_HF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/model.h"

/* Parses config.json's text (path names it in errors) into a checked config: the family from
 * `model_type`, the hyper-parameters from their keys. A missing required key, a value of the
 * wrong type, a key whose value restpg does not implement, or a key it does not know for the
 * family is RP_EINPUT naming the file and the key. */
int hf_config_parse(const char *path, const char *text, size_t len, ModelConfig *c, Error *e);

/* config.json for c (malloc'd text in *json): model_type, architectures, every key the parser
 * reads, the fixed keys at restpg's values, torch_dtype for dtype, and the special-token ids
 * (-1: left out). */
int hf_config_write(const ModelConfig *c, DType dtype, int32_t bos, int32_t eos, char **json, Error *e);

#endif

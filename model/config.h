/* Model configuration files: a YAML mapping with Hugging Face GPT2Config's names.
 *
 *     n_layer: 12
 *     n_head: 12
 *     n_embd: 768
 *     n_positions: 1024
 *
 * All four keys are required positive integers; the vocabulary size is not a key because it
 * comes from the tokenizer. Unknown keys, duplicate keys and values of the wrong type are
 * RP_EINPUT errors naming the file, the line and the key. */
#ifndef RESTPG_MODEL_CONFIG_H
#define RESTPG_MODEL_CONFIG_H

#include "core/error.h"
#include "model/gpt.h"

/* Reads path into cfg's n_layer, n_head, n_embd and n_positions (other fields set to 0; the
 * caller fills vocab_size from the tokenizer and calls gpt_config_check). */
int model_config_load(const char *path, GPTConfig *cfg, Error *e);

#endif

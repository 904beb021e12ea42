/* Importing a model from a GGUF file (llama.cpp's format, read by model/gguf.h): the architecture
 * and its hyper-parameters from the metadata, every tensor dequantized to fp32 into restpg's
 * layout, and the tokenizer from the embedded vocabulary. Gemma 3 is the architecture supported;
 * docs/gguf.md lists the keys read and the conventions converted. */
#ifndef RESTPG_MODEL_GGUF_IMPORT_H
#define RESTPG_MODEL_GGUF_IMPORT_H

#include "core/error.h"
#include "data/tokenizer.h"
#include "model/model.h"

/* 1 if path starts with GGUF's magic (0 if not or unreadable). */
int gguf_sniff(const char *path);

/* Initialises m from the GGUF file at path (on the selected backend) and creates *t from its
 * vocabulary. An unsupported architecture, a missing or contradictory key, a tensor that is
 * missing or whose shape disagrees with the metadata, or a tensor type that cannot be
 * dequantized is RP_EINPUT naming the file and the key or tensor; nothing is left allocated. */
int gguf_import(const char *path, Model *m, Tokenizer **t, Error *e);

#endif

/* llm.c's GPT-2 fp32 checkpoint format (train_gpt2.c, version 3), for bringing GPT-2 weights in
 * and taking restpg models out.
 *
 * Layout: a header of 256 int32 (little-endian) -- [0] magic 20240326, [1] version 3, [2] maxT,
 * [3] V, [4] L, [5] H, [6] C, [7] Vp, the rest 0 -- followed by the 16 parameter tensors as fp32
 * in llm.c's order (the order of model/gpt.h), wte padded to Vp rows. The file has no tokenizer,
 * so importing needs one; its vocabulary may be larger than V (restpg's extra special tokens
 * after GPT-2's 50257), in which case the extra rows come from the file's padding rows. */
#ifndef RESTPG_MODEL_LLMC_H
#define RESTPG_MODEL_LLMC_H

#include "core/error.h"
#include "data/tokenizer.h"
#include "model/model.h"

#define LLMC_MAGIC 20240326
#define LLMC_VERSION 3
#define LLMC_HEADER_INTS 256

/* 1 if the file starts with llm.c's magic number (0 if not or unreadable). */
int llmc_sniff(const char *path);

/* Reads an llm.c checkpoint into m (initialised here) with vocab_size = the tokenizer's
 * vocabulary, which must be at least the file's V. *file_vocab receives the file's V. Wrong
 * magic or version, impossible header fields, a size that does not match the header
 * (truncated), or a tokenizer smaller than V -> RP_EINPUT naming the file and field. */
int llmc_load(const char *path, const Tokenizer *t, Model *m, int *file_vocab, Error *e);

/* Writes m (a GPT-2; other architectures are RP_EINPUT) in llm.c's format atomically, with header V = header_vocab (0: m's vocab_size;
 * otherwise at most vocab_size) and Vp = m's padded vocabulary. */
int llmc_save(const char *path, const Model *m, int header_vocab, Error *e);

#endif

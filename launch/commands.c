/* The command table of the `restpg` binary and the shared dispatcher for command groups. */
#include "launch/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const Command COMMANDS[] = {
    /* In the order a REST-PG run uses them, then the tools. */
    {"data", cmd_data, "build, import and inspect datasets (import, debian, synth, info, prompt)"},
    {"tokenizer", cmd_tokenizer, "train a BPE tokenizer, encode and decode text"},
    {"reason", cmd_reason, "add reasoning paths to a dataset (built-in teacher, an LLM's JSON Lines or a teacher program)"},
    {"pretrain", cmd_pretrain, "train a base model from scratch on a dataset's texts (MPI data parallel)"},
    {"sft", cmd_sft, "fine-tune a checkpoint on prompt -> target (reasoning on/off; MPI data parallel)"},
    {"sample", cmd_sample, "generate N candidates per input of a split with a shared KV cache (MPI sharded, resumable)"},
    {"generate", cmd_generate, "print candidates (reasoning, answer, logprob, finish) for one example"},
    {"reward", cmd_reward, "score sampled candidates and keep the best per input (the E-step filter)"},
    {"score", cmd_score, "corpus ROUGE-1/2/L (and METEOR) of predictions against references, paired by id"},
    {"em", cmd_em, "EM self-training rounds from an SFT policy (sample, reward, filter, M-step, validate)"},
    {"eval", cmd_eval, "LongLaMP metrics (ROUGE-1, ROUGE-L, METEOR) of a checkpoint on a split"},
    {"run", cmd_run, "the whole REST-PG method from a config, resumable (data to evaluation)"},
    {"ablate", cmd_ablate, "the paper's comparison: no personalization, RAG+SFT, SFT+reasoning, ReST-EM, REST-PG"},
    {"demo", cmd_demo, "the default REST-PG run on this machine's Debian data (run it under mpirun -np 2)"},
    {"launch", cmd_launch, "run a restpg command on MPI ranks (mpirun, or srun inside Slurm) with sane defaults"},
    {"loss", cmd_loss, "mean next-token loss of token-id sequences under a checkpoint"},
    {"convert", cmd_convert, "convert llm.c GPT-2 checkpoints (.bin), GGUF files and Hugging Face directories to restpg checkpoints (.h5), and back to llm.c"},
    {"export", cmd_export, "write a model as a Hugging Face directory (config.json, safetensors, tokenizer.json)"},
    {"safetensors", cmd_safetensors, "list and read Hugging Face safetensors files and model directories"},
    {NULL, NULL, NULL},
};

void command_print_table(const char *group, const Command *table) {
    printf("usage: restpg %s%sCOMMAND [options]   (restpg %s%sCOMMAND --help for details)\n\ncommands:\n",
           group ? group : "", group ? " " : "", group ? group : "", group ? " " : "");
    for (const Command *c = table; c->name; c++) printf("  %-12s %s\n", c->name, c->summary);
}

int command_dispatch(const char *group, const Command *table, int argc, char **argv, Error *e) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        command_print_table(group, table);
        return argc < 2 ? error_set(e, RP_EINPUT, "%s: missing command", group ? group : "restpg") : RP_HELP;
    }
    for (const Command *c = table; c->name; c++)
        if (!strcmp(c->name, argv[1])) return c->fn(argc - 1, argv + 1, e);
    return error_set(e, RP_EINPUT, "%s: unknown command '%s' (see restpg %s%shelp)", group ? group : "restpg", argv[1],
                     group ? group : "", group ? " " : "");
}

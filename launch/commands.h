/* The `restpg` subcommands. Each is `int cmd_NAME(int argc, char **argv, Error *e)` where argv[0]
 * is the subcommand's own name; it returns RP_OK, RP_HELP after printing help, or an error code
 * with a message in e. Only launch/main.c prints that message and exits. */
#ifndef RESTPG_LAUNCH_COMMANDS_H
#define RESTPG_LAUNCH_COMMANDS_H

#include "core/error.h"

typedef int (*CommandFn)(int argc, char **argv, Error *e);

typedef struct {
    const char *name;
    CommandFn fn;
    const char *summary;
} Command;

/* The command table, terminated by a {NULL} entry. */
extern const Command COMMANDS[];

/* A group of sub-subcommands ("restpg data import ...") dispatched the same way. */
int command_dispatch(const char *group, const Command *table, int argc, char **argv, Error *e);
void command_print_table(const char *group, const Command *table);

int cmd_data(int argc, char **argv, Error *e);
int cmd_tokenizer(int argc, char **argv, Error *e);
int cmd_reason(int argc, char **argv, Error *e);
int cmd_reward(int argc, char **argv, Error *e);
int cmd_pretrain(int argc, char **argv, Error *e);
int cmd_sft(int argc, char **argv, Error *e);
int cmd_loss(int argc, char **argv, Error *e);
int cmd_convert(int argc, char **argv, Error *e);
int cmd_safetensors(int argc, char **argv, Error *e);
int cmd_export(int argc, char **argv, Error *e);
int cmd_sample(int argc, char **argv, Error *e);
int cmd_generate(int argc, char **argv, Error *e);

int cmd_score(int argc, char **argv, Error *e);
int cmd_launch(int argc, char **argv, Error *e);
int cmd_em(int argc, char **argv, Error *e);
int cmd_eval(int argc, char **argv, Error *e);
int cmd_run(int argc, char **argv, Error *e);
int cmd_ablate(int argc, char **argv, Error *e);
int cmd_demo(int argc, char **argv, Error *e);
#endif

/* `restpg tokenizer ...`: the tokenizer command group. */
#include "launch/commands.h"

static const Command TOKENIZER_COMMANDS[] = {
    {NULL, NULL, NULL},
};

int cmd_tokenizer(int argc, char **argv, Error *e) {
    return command_dispatch("tokenizer", TOKENIZER_COMMANDS, argc, argv, e);
}

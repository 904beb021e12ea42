/* Declarative command-line parsing shared by every `restpg` subcommand, so all of them accept
 * `--name value`, `--name=value`, `--help`, and reject unknown or malformed options the same way. */
#ifndef RESTPG_CORE_ARGS_H
#define RESTPG_CORE_ARGS_H

#include "core/error.h"

typedef enum { ARG_STR, ARG_INT, ARG_DOUBLE, ARG_FLAG } ArgType;

typedef struct {
    const char *name;  /* "--out"; a name without leading dashes is a positional argument */
    ArgType type;
    void *dst;         /* const char**, long*, double*, or int* (ARG_FLAG sets 1) */
    const char *help;
    int required;
    int seen;          /* set by args_parse */
} ArgSpec;

/* Parses argv[1..argc-1] into the specs (argv[0] is the subcommand's name). Defaults are whatever
 * the dst variables hold before the call. Returns RP_OK, RP_HELP after printing usage for
 * --help/-h, or RP_EINPUT naming the bad option. `usage` is the one-paragraph description printed
 * above the option list. The specs array ends with an entry whose name is NULL. */
int args_parse(const char *cmd, const char *usage, ArgSpec *specs, int argc, char **argv, Error *e);

/* Prints the usage text and option list of a command to stdout. */
void args_print_usage(const char *cmd, const char *usage, const ArgSpec *specs);

/* Parses a whole string as a long / double; RP_EINPUT naming `what` if it is not one. */
int parse_long(const char *s, const char *what, long *out, Error *e);
int parse_double(const char *s, const char *what, double *out, Error *e);

#endif

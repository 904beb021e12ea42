/* Declarative command-line parsing shared by every `restpg` subcommand, so all of them accept
 * `--name value`, `--name=value`, `--help`, and reject unknown or malformed options the same way. */
#ifndef RESTPG_CORE_ARGS_H
#define RESTPG_CORE_ARGS_H

#include <math.h>

#include "core/error.h"

typedef enum { ARG_STR, ARG_INT, ARG_DOUBLE, ARG_FLAG } ArgType;

/* What a value must be, written once next to the option (or config key) it belongs to, so every
 * command words its range errors the same way. Numbers (ARG_INT, ARG_DOUBLE) must lie in the
 * interval lo..hi (an infinite end is open-ended; lo_open/hi_open exclude that end); strings
 * (ARG_STR) must equal one of `choices` (NULL-terminated) when it is set, and be non-empty when
 * `nonempty` is. */
typedef struct {
    double lo, hi;
    int lo_open, hi_open;
    const char *const *choices;
    int nonempty;
} ArgRule;

/* Rules for the tables: ARG_RANGE(1, 4096) is [1, 4096], ARG_MIN(0) is >= 0, ARG_ABOVE(0) is
 * > 0, ARG_ABOVE_UPTO(0, 1) is (0, 1], ARG_ONE_OF("on", "off") a choice of strings. Integer
 * bounds are exact up to 2^53. */
#define ARG_RANGE(a, b) (&(const ArgRule){.lo = (a), .hi = (b)})
#define ARG_MIN(a) ARG_RANGE(a, INFINITY)
#define ARG_ABOVE(a) (&(const ArgRule){.lo = (a), .hi = INFINITY, .lo_open = 1})
#define ARG_ABOVE_UPTO(a, b) (&(const ArgRule){.lo = (a), .hi = (b), .lo_open = 1})
#define ARG_ONE_OF(...) (&(const ArgRule){.choices = (const char *const[]){__VA_ARGS__, NULL}})
#define ARG_NONEMPTY (&(const ArgRule){.nonempty = 1})

/* Bounds shared by many commands, so one number holds everywhere. Thread counts: OpenMP aborts on
 * absurd team sizes, so every --threads and the config key `threads` stop at ARG_THREADS_MAX (0 is
 * the command's default where it has one). A split is one of the dataset's three. */
#define ARG_THREADS_MAX 4096
#define ARG_THREADS ARG_RANGE(0, ARG_THREADS_MAX)
#define ARG_THREADS_1 ARG_RANGE(1, ARG_THREADS_MAX)
#define ARG_SPLIT ARG_ONE_OF("train", "val", "test")

typedef struct {
    const char *name;    /* "--out"; a name without leading dashes is a positional argument */
    ArgType type;
    void *dst;           /* const char**, long*, double*, or int* (ARG_FLAG sets 1) */
    const char *help;
    int required;
    const ArgRule *rule; /* checked on every value given; NULL: any value of the type */
} ArgSpec;

/* Parses argv[1..argc-1] into the specs (argv[0] is the subcommand's name). Defaults are whatever
 * the dst variables hold before the call and are not checked against the rules, so a default may
 * be a sentinel (-1 = "not given"). Returns RP_OK, RP_HELP after printing usage for --help/-h,
 * or RP_EINPUT naming the bad option. `usage` is the one-paragraph description printed above the
 * option list. The specs array ends with an entry whose name is NULL. */
int args_parse(const char *cmd, const char *usage, ArgSpec *specs, int argc, char **argv, Error *e);

/* Prints the usage text and option list of a command to stdout. */
void args_print_usage(const char *cmd, const char *usage, const ArgSpec *specs);

/* Checks one value against a rule (NULL passes everything): value points at a long (ARG_INT), a
 * double (ARG_DOUBLE) or a const char* (ARG_STR). RP_EINPUT "NAME: must be in [lo, hi], got X"
 * or "NAME: expected a, b or c, got 'X'" or "NAME: must not be empty" otherwise. */
int arg_rule_check(const ArgRule *r, ArgType type, const char *name, const void *value, Error *e);

/* Parses a whole string as a long / double; RP_EINPUT naming `what` if it is not one. */
int parse_long(const char *s, const char *what, long *out, Error *e);
int parse_double(const char *s, const char *what, double *out, Error *e);

#endif

/* Option parsing: the rules of the argument table (bounds of numbers, choices of strings) are
 * checked on given values only, with messages that name the option, the rule and the value. */
#include "core/args.h"
#include "tests/test.h"

typedef struct {
    long n, k;
    double p, lr;
    const char *mode, *out;
} Opts;

/* Parses the words after a command name into o (reset to its defaults first). */
static int parse(Opts *o, Error *e, int argc, char **argv) {
    *o = (Opts){.n = 4, .k = -1, .p = 0.9, .lr = 1e-3, .mode = "auto"};
    ArgSpec specs[] = {
        {"--n", ARG_INT, &o->n, "count", 0, ARG_RANGE(1, 100)},
        {"--k", ARG_INT, &o->k, "items; default -1 = not given", 0, ARG_MIN(0)},
        {"--top-p", ARG_DOUBLE, &o->p, "mass", 0, ARG_ABOVE_UPTO(0, 1)},
        {"--lr", ARG_DOUBLE, &o->lr, "rate", 0, ARG_ABOVE(0)},
        {"--mode", ARG_STR, &o->mode, "on, off or auto", 0, ARG_ONE_OF("on", "off", "auto")},
        {"--out", ARG_STR, &o->out, "path", 0, NULL},
        {NULL, 0, NULL, NULL, 0, NULL},
    };
    return args_parse("t", "test", specs, argc, argv, e);
}

#define PARSE(o, e, ...) parse(o, e, (int)(sizeof((char *[]){"t", __VA_ARGS__}) / sizeof(char *)), (char *[]){"t", __VA_ARGS__})

int main(void) {
    Error e;
    error_clear(&e);
    Opts o;

    /* Defaults are not checked: -1 means "not given". */
    CHECK_OK(PARSE(&o, &e, "--out", "x"), &e);
    CHECK(o.n == 4 && o.k == -1 && !strcmp(o.mode, "auto") && !strcmp(o.out, "x"));

    /* Good values at each bound. */
    CHECK_OK(PARSE(&o, &e, "--n", "1"), &e);
    CHECK(o.n == 1);
    CHECK_OK(PARSE(&o, &e, "--n=100"), &e);
    CHECK(o.n == 100);
    CHECK_OK(PARSE(&o, &e, "--k", "0"), &e);
    CHECK(o.k == 0);
    CHECK_OK(PARSE(&o, &e, "--top-p", "1"), &e);
    CHECK_NEAR(o.p, 1.0, 0);
    CHECK_OK(PARSE(&o, &e, "--lr", "1e-300"), &e);
    CHECK_OK(PARSE(&o, &e, "--mode", "on"), &e);
    CHECK_OK(PARSE(&o, &e, "--mode", "auto"), &e);
    CHECK(!strcmp(o.mode, "auto"));

    /* An int below the minimum, above the maximum, and below a lower bound alone. */
    CHECK(PARSE(&o, &e, "--n", "0") == RP_EINPUT);
    CHECK_STR(e.msg, "--n: must be in [1, 100], got 0");
    CHECK(PARSE(&o, &e, "--n=101") == RP_EINPUT);
    CHECK_STR(e.msg, "--n: must be in [1, 100], got 101");
    CHECK(PARSE(&o, &e, "--k", "-3") == RP_EINPUT);
    CHECK_STR(e.msg, "--k: must be at least 0, got -3");

    /* Open ends exclude their bound. */
    CHECK(PARSE(&o, &e, "--top-p", "0") == RP_EINPUT);
    CHECK_STR(e.msg, "--top-p: must be in (0, 1], got 0");
    CHECK(PARSE(&o, &e, "--top-p", "1.5") == RP_EINPUT);
    CHECK_STR(e.msg, "--top-p: must be in (0, 1], got 1.5");
    CHECK(PARSE(&o, &e, "--lr", "0") == RP_EINPUT);
    CHECK_STR(e.msg, "--lr: must be greater than 0, got 0");

    /* A bad enum string names the choices. */
    CHECK(PARSE(&o, &e, "--mode", "maybe") == RP_EINPUT);
    CHECK_STR(e.msg, "--mode: expected on, off or auto, got 'maybe'");

    /* Type errors come before rules. */
    CHECK(PARSE(&o, &e, "--n", "2.5") == RP_EINPUT);
    CHECK_STR(e.msg, "--n: expected an integer, got '2.5'");

    /* The rule check on its own (the config file uses it). */
    long v = 7;
    CHECK_OK(arg_rule_check(ARG_RANGE(7, 7), ARG_INT, "key 'x'", &v, &e), &e);
    CHECK_OK(arg_rule_check(NULL, ARG_INT, "key 'x'", &v, &e), &e);
    CHECK(arg_rule_check(ARG_RANGE(-INFINITY, 5), ARG_INT, "key 'x'", &v, &e) == RP_EINPUT);
    CHECK_STR(e.msg, "key 'x': must be at most 5, got 7");
    const char *two = "b";
    CHECK(arg_rule_check(ARG_ONE_OF("a"), ARG_STR, "key 'y'", &two, &e) == RP_EINPUT);
    CHECK_STR(e.msg, "key 'y': expected a, got 'b'");
    return test_summary("test_args");
}

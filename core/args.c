/* Command-line option parsing (see args.h). */
#include "core/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_long(const char *s, const char *what, long *out, Error *e) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return error_set(e, RP_EINPUT, "%s: expected an integer, got '%s'", what, s);
    *out = v;
    return RP_OK;
}

int parse_double(const char *s, const char *what, double *out, Error *e) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return error_set(e, RP_EINPUT, "%s: expected a number, got '%s'", what, s);
    *out = v;
    return RP_OK;
}

void args_print_usage(const char *cmd, const char *usage, const ArgSpec *specs) {
    printf("usage: restpg %s", cmd);
    for (const ArgSpec *s = specs; s->name; s++)
        if (s->name[0] != '-') printf(" %s", s->name);
    printf(" [options]\n\n%s\n\noptions:\n", usage);
    for (const ArgSpec *s = specs; s->name; s++) {
        const char *meta = s->type == ARG_FLAG ? "" : s->type == ARG_INT ? " N" : s->type == ARG_DOUBLE ? " X" : " V";
        char left[64];
        snprintf(left, sizeof left, "%s%s", s->name, s->name[0] == '-' ? meta : "");
        printf("  %-24s %s%s\n", left, s->help ? s->help : "", s->required ? " (required)" : "");
    }
    printf("  %-24s %s\n", "--help", "print this help");
}

/* A bound as the user would type it: integers without a fraction. */
static void format_number(char *buf, size_t n, ArgType type, double v) {
    if (type == ARG_INT) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%g", v);
}

int arg_rule_check(const ArgRule *r, ArgType type, const char *name, const void *value, Error *e) {
    if (!r) return RP_OK;
    if (type == ARG_STR) {
        const char *v = *(const char *const *)value;
        if (r->nonempty && !v[0]) return error_set(e, RP_EINPUT, "%s: must not be empty", name);
        if (!r->choices) return RP_OK;
        int n = 0;
        for (const char *const *c = r->choices; *c; c++, n++)
            if (!strcmp(*c, v)) return RP_OK;
        char list[512];
        size_t len = 0;
        list[0] = '\0';
        for (int i = 0; i < n && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                                    r->choices[i]);
        return error_set(e, RP_EINPUT, "%s: expected %s, got '%s'", name, list, v);
    }
    if (type != ARG_INT && type != ARG_DOUBLE) return RP_OK;
    double v = type == ARG_INT ? (double)*(const long *)value : *(const double *)value;
    int below = r->lo_open ? !(v > r->lo) : !(v >= r->lo);
    int above = r->hi_open ? !(v < r->hi) : !(v <= r->hi);
    if (!below && !above) return RP_OK;
    char lo[32], hi[32], got[32];
    format_number(lo, sizeof lo, type, r->lo);
    format_number(hi, sizeof hi, type, r->hi);
    if (type == ARG_INT) snprintf(got, sizeof got, "%ld", *(const long *)value);
    else snprintf(got, sizeof got, "%g", v);
    if (isinf(r->hi))
        return error_set(e, RP_EINPUT, "%s: must be %s %s, got %s", name, r->lo_open ? "greater than" : "at least", lo, got);
    if (isinf(r->lo))
        return error_set(e, RP_EINPUT, "%s: must be %s %s, got %s", name, r->hi_open ? "less than" : "at most", hi, got);
    return error_set(e, RP_EINPUT, "%s: must be in %c%s, %s%c, got %s", name, r->lo_open ? '(' : '[', lo, hi,
                     r->hi_open ? ')' : ']', got);
}

static int assign(ArgSpec *s, const char *val, Error *e) {
    int rc = RP_OK;
    switch (s->type) {
    case ARG_STR: *(const char **)s->dst = val; break;
    case ARG_INT: rc = parse_long(val, s->name, (long *)s->dst, e); break;
    case ARG_DOUBLE: rc = parse_double(val, s->name, (double *)s->dst, e); break;
    case ARG_FLAG: *(int *)s->dst = 1; return RP_OK;
    }
    return rc ? rc : arg_rule_check(s->rule, s->type, s->name, s->dst, e);
}

/* The option of argv word a, or an RP_EINPUT error in e (NULL returned). */
static ArgSpec *find_option(const char *cmd, ArgSpec *specs, const char *a, Error *e) {
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    for (ArgSpec *s = specs; s->name; s++)
        if (s->name[0] == '-' && strlen(s->name) == n && !strncmp(s->name, a, n)) return s;
    error_set(e, RP_EINPUT, "%s: unknown option '%.*s' (see restpg %s --help)", cmd, (int)n, a, cmd);
    return NULL;
}

static int parse_words(const char *cmd, const char *usage, ArgSpec *specs, char *seen, int argc, char **argv, Error *e) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            args_print_usage(cmd, usage, specs);
            return RP_HELP;
        }
        ArgSpec *hit = NULL;
        const char *val = NULL;
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            if (!(hit = find_option(cmd, specs, a, e))) return RP_EINPUT;
            if (hit->type == ARG_FLAG) {
                if (eq) return error_set(e, RP_EINPUT, "%s: option %s takes no value", cmd, hit->name);
            } else if (eq) {
                val = eq + 1;
            } else {
                if (i + 1 >= argc) return error_set(e, RP_EINPUT, "%s: option %s needs a value", cmd, hit->name);
                val = argv[++i];
            }
        } else {
            for (ArgSpec *s = specs; s->name; s++)
                if (s->name[0] != '-' && !seen[s - specs]) { hit = s; break; }
            if (!hit) return error_set(e, RP_EINPUT, "%s: unexpected argument '%s'", cmd, a);
            val = a;
        }
        int rc = assign(hit, val, e);
        if (rc) return rc;
        seen[hit - specs] = 1;
    }
    for (ArgSpec *s = specs; s->name; s++)
        if (s->required && !seen[s - specs])
            return error_set(e, RP_EINPUT, "%s: missing required %s%s (see restpg %s --help)", cmd,
                             s->name[0] == '-' ? "option " : "argument ", s->name, cmd);
    return RP_OK;
}

int args_parse(const char *cmd, const char *usage, ArgSpec *specs, int argc, char **argv, Error *e) {
    size_t n = 0;
    while (specs[n].name) n++;
    char *seen = xcalloc(n + 1, 1, e);
    if (!seen) return RP_ENOMEM;
    int rc = parse_words(cmd, usage, specs, seen, argc, argv, e);
    free(seen);
    return rc;
}

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

static int assign(ArgSpec *s, const char *val, Error *e) {
    switch (s->type) {
    case ARG_STR: *(const char **)s->dst = val; return RP_OK;
    case ARG_INT: return parse_long(val, s->name, (long *)s->dst, e);
    case ARG_DOUBLE: return parse_double(val, s->name, (double *)s->dst, e);
    case ARG_FLAG: *(int *)s->dst = 1; return RP_OK;
    }
    return error_set(e, RP_EINTERNAL, "bad argument type");
}

int args_parse(const char *cmd, const char *usage, ArgSpec *specs, int argc, char **argv, Error *e) {
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
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            for (ArgSpec *s = specs; s->name; s++)
                if (s->name[0] == '-' && strlen(s->name) == n && !strncmp(s->name, a, n)) hit = s;
            if (!hit) return error_set(e, RP_EINPUT, "%s: unknown option '%.*s' (see restpg %s --help)", cmd, (int)n, a, cmd);
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
                if (s->name[0] != '-' && !s->seen) { hit = s; break; }
            if (!hit) return error_set(e, RP_EINPUT, "%s: unexpected argument '%s'", cmd, a);
            val = a;
        }
        int rc = assign(hit, val, e);
        if (rc) return rc;
        hit->seen = 1;
    }
    for (ArgSpec *s = specs; s->name; s++)
        if (s->required && !s->seen)
            return error_set(e, RP_EINPUT, "%s: missing required %s%s (see restpg %s --help)", cmd,
                             s->name[0] == '-' ? "option " : "argument ", s->name, cmd);
    return RP_OK;
}

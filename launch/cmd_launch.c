/* `restpg launch`: runs a restpg command under mpirun, or under srun inside a Slurm allocation,
 * with this project's defaults (ranks, threads per rank, binding, oversubscription, Open MPI's
 * root and pml settings), prints the exact command, and execs it by argv: never through a shell,
 * so arguments reach restpg byte for byte. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/args.h"
#include "launch/commands.h"

#define LAUNCH_MAX_HOSTS 4096

typedef struct {
    char **v;
    int n, cap;
} Words;

typedef struct {
    char name[256];
    long slots; /* 0: not given */
} Host;

static int words_push(Words *w, const char *s, Error *e) {
    if (w->n + 2 > w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        char **v = xrealloc(w->v, (size_t)cap * sizeof *v, e);
        if (!v) return RP_ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    if (!(w->v[w->n] = xstrdup(s, e))) return RP_ENOMEM;
    w->v[++w->n] = NULL;
    return RP_OK;
}

/* Pushes prefix followed by x in decimal as one word ("--ntasks=4"). */
static int words_push_long(Words *w, const char *prefix, long x, Error *e) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s%ld", prefix, x);
    return words_push(w, buf, e);
}

static void words_free(Words *w) {
    for (int i = 0; i < w->n; i++) free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

/* Cores this process may use: distinct (package, core) pairs among the CPUs of its affinity
 * mask, since Open MPI counts a slot per physical core and BLAS threads gain nothing from
 * hyperthreads. Falls back to one core per CPU where sysfs has no topology. */
static long cores_available(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? n : 1;
    }
    static long keys[CPU_SETSIZE];
    long n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        long core = -1, pkg = -1;
        char path[128];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%ld", &core) != 1) core = -1;
            fclose(f);
        }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%ld", &pkg) != 1) pkg = -1;
            fclose(f);
        }
        long key = core < 0 || pkg < 0 ? -1 - cpu : pkg * 1000000 + core;
        int dup = 0;
        for (long i = 0; i < n && !dup; i++) dup = keys[i] == key;
        if (!dup) keys[n++] = key;
    }
    return n > 0 ? n : 1;
}

/* "a,b:4,c" -> hosts; slots after ':' are optional positive integers. */
static int hosts_parse(const char *spec, Host *hosts, int *n_hosts, Error *e) {
    *n_hosts = 0;
    const char *p = spec;
    for (int field = 1;; field++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t name_len = colon ? (size_t)(colon - p) : len;
        if (name_len == 0 || name_len >= sizeof hosts[0].name)
            return error_set(e, RP_EINPUT, "--nodes: host %d of '%s' is %s", field, spec, name_len ? "too long" : "empty");
        for (size_t i = 0; i < name_len; i++)
            if (!isalnum((unsigned char)p[i]) && !strchr(".-_[]", p[i]))
                return error_set(e, RP_EINPUT, "--nodes: host %d of '%s' has the character '%c' (hosts are "
                                 "NAME or NAME:SLOTS separated by commas)", field, spec, p[i]);
        if (*n_hosts == LAUNCH_MAX_HOSTS) return error_set(e, RP_EINPUT, "--nodes: more than %d hosts", LAUNCH_MAX_HOSTS);
        Host *h = &hosts[(*n_hosts)++];
        memcpy(h->name, p, name_len);
        h->name[name_len] = '\0';
        h->slots = 0;
        if (colon) {
            char num[32];
            size_t nl = len - name_len - 1;
            if (nl == 0 || nl >= sizeof num) return error_set(e, RP_EINPUT, "--nodes: host %d of '%s': bad slot count", field, spec);
            memcpy(num, colon + 1, nl);
            num[nl] = '\0';
            char what[64];
            snprintf(what, sizeof what, "--nodes: slots of host %d", field);
            int rc = parse_long(num, what, &h->slots, e);
            if (rc || (rc = arg_rule_check(ARG_MIN(1), ARG_INT, what, &h->slots, e))) return rc;
        }
        if (!end) return RP_OK;
        p = end + 1;
    }
}

/* Pushes "name=value" as one word. */
static int push_env(Words *w, const char *name, const char *value, Error *e) {
    char *kv = xmalloc(strlen(name) + strlen(value) + 2, e);
    if (!kv) return RP_ENOMEM;
    sprintf(kv, "%s=%s", name, value);
    int rc = words_push(w, kv, e);
    free(kv);
    return rc;
}

/* Pushes prefix + "a,b,c" (with ":SLOTS" after each name when with_slots) as one word. */
static int push_hosts(Words *w, const char *prefix, const Host *hosts, int n_hosts, int with_slots, Error *e) {
    size_t need = strlen(prefix) + 1;
    for (int i = 0; i < n_hosts; i++) need += strlen(hosts[i].name) + 24;
    char *list = xmalloc(need, e);
    if (!list) return RP_ENOMEM;
    size_t at = (size_t)sprintf(list, "%s", prefix);
    for (int i = 0; i < n_hosts; i++) {
        at += (size_t)sprintf(list + at, "%s%s", i ? "," : "", hosts[i].name);
        if (with_slots) at += (size_t)sprintf(list + at, ":%ld", hosts[i].slots);
    }
    int rc = words_push(w, list, e);
    free(list);
    return rc;
}

static int is_command(const char *s) {
    for (const Command *c = COMMANDS; c->name; c++)
        if (!strcmp(c->name, s)) return 1;
    return 0;
}

/* Prints s, single-quoted when a shell would otherwise split or expand it, so the printed
 * command can be pasted into a shell and does exactly what launch does. */
static void print_word(FILE *f, const char *s) {
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++) plain = isalnum((unsigned char)*p) || strchr("@%+=:,./_-^", *p);
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}

/* The absolute path of this binary (allocated), or "restpg" to be found on PATH where /proc has
 * no link. readlink does not say whether it cut the path short, so the buffer grows until the
 * link fits with a byte to spare. */
static char *self_path(Error *e) {
    for (size_t cap = 256;; cap *= 2) {
        char *buf = xmalloc(cap, e);
        if (!buf) return NULL;
        ssize_t len = readlink("/proc/self/exe", buf, cap);
        if (len <= 0) {
            free(buf);
            return xstrdup("restpg", e);
        }
        if ((size_t)len < cap) {
            buf[len] = '\0';
            return buf;
        }
        free(buf);
    }
}

typedef struct {
    long np, threads, gpus; /* gpus: GPUs per node, 0 for a CPU job */
    const char *nodes, *launcher;
    int dry_run;
} LaunchOpts;

/* Whether the restpg command `name` runs a model (and so takes --device). */
static int runs_model(const char *name) {
    static const char *const cmds[] = {"run", "pretrain", "sft", "sample",   "generate", "eval",
                                       "em",  "ablate",   "demo", "loss", NULL};
    for (int i = 0; cmds[i]; i++)
        if (!strcmp(cmds[i], name)) return 1;
    return 0;
}

/* Builds the environment assignments (env) and the launcher's argv (cmd) that run the argv `job`;
 * hosts is scratch space for LAUNCH_MAX_HOSTS parsed --nodes entries. */
static int launch_plan(const LaunchOpts *o, Host *hosts, char **job, int n_job, Words *env, Words *cmd, Error *e) {
    int n_hosts = 0, rc;
    if (o->nodes && (rc = hosts_parse(o->nodes, hosts, &n_hosts, e))) return rc;
    int srun;
    if (!strcmp(o->launcher, "auto")) srun = getenv("SLURM_JOB_ID") != NULL;
    else srun = !strcmp(o->launcher, "srun");

    /* Cores per node: inside an allocation only the CPUs Slurm gave this job count. */
    long cores = cores_available(), slurm_cpus = 0;
    const char *son = getenv("SLURM_CPUS_ON_NODE");
    if (srun && son && parse_long(son, "SLURM_CPUS_ON_NODE", &slurm_cpus, e) == RP_OK && slurm_cpus > 0) cores = slurm_cpus;
    error_clear(e);
    long slots = 0;
    int nodes = n_hosts ? n_hosts : 1;
    for (int i = 0; i < n_hosts; i++) {
        if (!hosts[i].slots) hosts[i].slots = cores; /* nodes are assumed alike unless NAME:SLOTS says otherwise */
        slots += hosts[i].slots;
    }
    if (!n_hosts) slots = cores;
    long np = o->np;
    if (np == 0 && srun) {
        const char *nt = getenv("SLURM_NTASKS");
        if (nt && parse_long(nt, "SLURM_NTASKS", &np, e) != RP_OK) np = 0;
        error_clear(e);
    }
    /* A GPU job: one rank per GPU, so gpus ranks on every node. */
    if (np == 0 && o->gpus) np = o->gpus * nodes;
    if (np == 0) np = o->threads > 0 ? (slots / o->threads > 0 ? slots / o->threads : 1) : slots;
    /* Derived from the machine when not given, so checked here rather than by the option table. */
    if ((rc = arg_rule_check(ARG_RANGE(1, 1000000), ARG_INT, "--np", &np, e))) return rc;
    if (o->gpus && np % o->gpus)
        return error_set(e, RP_EINPUT, "launch: --np %ld is not a multiple of --gpus-per-node %ld (one rank per GPU)", np,
                         o->gpus);
    long per_node = o->gpus ? o->gpus : (np + nodes - 1) / nodes;
    long threads = o->threads;
    if (threads == 0) threads = cores / per_node > 0 ? cores / per_node : 1;
    if ((rc = arg_rule_check(ARG_THREADS_1, ARG_INT, "--threads", &threads, e))) return rc;

    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%ld", threads);
    const char *pml = getenv("OMPI_MCA_pml");
    if (!pml || !*pml) pml = "ob1"; /* a choice already in the environment (a template's ucx) wins */
    if ((rc = push_env(env, "OMP_NUM_THREADS", tbuf, e)) || (rc = push_env(env, "OPENBLAS_NUM_THREADS", tbuf, e)) ||
        (rc = push_env(env, "OMPI_MCA_pml", pml, e)))
        return rc;
    if (!srun && geteuid() == 0 &&
        ((rc = push_env(env, "OMPI_ALLOW_RUN_AS_ROOT", "1", e)) || (rc = push_env(env, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", e))))
        return rc;

    if (srun) {
        if ((rc = words_push(cmd, "srun", e)) || (rc = words_push(cmd, "--mpi=pmix", e)) ||
            (rc = words_push_long(cmd, "--ntasks=", np, e)) || (rc = words_push_long(cmd, "--cpus-per-task=", threads, e)) ||
            (rc = words_push(cmd, "--kill-on-bad-exit=1", e)))
            return rc;
        if (o->gpus && (rc = words_push_long(cmd, "--ntasks-per-node=", o->gpus, e))) return rc;
        if (n_hosts && (rc = push_hosts(cmd, "--nodelist=", hosts, n_hosts, 0, e))) return rc;
    } else {
        if ((rc = words_push(cmd, "mpirun", e)) || (rc = words_push(cmd, "-np", e)) || (rc = words_push_long(cmd, "", np, e)))
            return rc;
        if (n_hosts && ((rc = words_push(cmd, "--host", e)) || (rc = push_hosts(cmd, "", hosts, n_hosts, 1, e)))) return rc;
        /* Oversubscribed ranks cannot each own a core, so they are not bound either. */
        int over = np > slots;
        if (over && (rc = words_push(cmd, "--oversubscribe", e))) return rc;
        /* Exactly gpus ranks per node, so node-local ranks 0..gpus-1 meet GPUs 0..gpus-1. */
        if (o->gpus) {
            char ppr[64];
            snprintf(ppr, sizeof ppr, "ppr:%ld:node", o->gpus);
            if ((rc = words_push(cmd, "--map-by", e)) || (rc = words_push(cmd, ppr, e))) return rc;
        }
        if ((rc = words_push(cmd, "--bind-to", e)) || (rc = words_push(cmd, threads > 1 || over ? "none" : "core", e)))
            return rc;
        /* mpirun forwards OMPI_MCA_* itself; the thread counts must be named to reach other nodes. */
        if ((rc = words_push(cmd, "-x", e)) || (rc = words_push(cmd, "OMP_NUM_THREADS", e)) ||
            (rc = words_push(cmd, "-x", e)) || (rc = words_push(cmd, "OPENBLAS_NUM_THREADS", e)))
            return rc;
    }

    /* `-- pretrain ...` and `-- restpg pretrain ...` both mean this very binary, by absolute path
     * so every node runs the same build (on a shared filesystem). */
    int skip = 0;
    const char *first = job[0];
    if (!strcmp(first, "restpg") || is_command(first)) {
        char *self = self_path(e);
        if (!self) return RP_ENOMEM;
        rc = words_push(cmd, self, e);
        free(self);
        if (rc) return rc;
        skip = !strcmp(first, "restpg");
    }
    int has_device = 0;
    for (int i = skip; i < n_job; i++) {
        if ((rc = words_push(cmd, job[i], e))) return rc;
        has_device |= !strcmp(job[i], "--device") || !strncmp(job[i], "--device=", 9);
    }
    /* A GPU job's model runs on the GPUs unless the command says otherwise. */
    if (o->gpus && skip < n_job && runs_model(job[skip]) && !has_device && (rc = words_push(cmd, "--device=cuda", e)))
        return rc;
    return RP_OK;
}

int cmd_launch(int argc, char **argv, Error *e) {
    LaunchOpts o = {0, 0, 0, NULL, "auto", 0};
    ArgSpec specs[] = {
        /* 0 stands for "not given" inside launch_plan, so a given value must be at least 1. */
        {"--np", ARG_INT, &o.np, "MPI ranks (default: SLURM_NTASKS in an allocation, else slots / --threads)", 0, ARG_MIN(1)},
        {"--nodes", ARG_STR, &o.nodes, "hosts as NAME[:SLOTS],... (default: this machine; SLOTS defaults to its cores)", 0, 0},
        {"--threads", ARG_INT, &o.threads, "CPU threads per rank (default: cores per node / ranks per node)", 0, ARG_THREADS_1},
        {"--gpus-per-node", ARG_INT, &o.gpus,
         "a GPU job: one rank per GPU, this many per node (--np defaults to it times the nodes); each rank computes on "
         "the GPU of its node-local rank, and model commands get --device=cuda unless they name a device",
         0, ARG_RANGE(1, 1024)},
        {"--launcher", ARG_STR, &o.launcher, "auto (srun if SLURM_JOB_ID is set, else mpirun), mpirun or srun", 0,
         ARG_ONE_OF("auto", "mpirun", "srun")},
        {"--dry-run", ARG_FLAG, &o.dry_run, "print the command and do not run it", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--")) sep++;
    int rc = args_parse("launch",
                        "Runs a restpg command on MPI ranks: `restpg launch [options] -- restpg COMMAND ARGS...`. Uses "
                        "srun --mpi=pmix inside a Slurm allocation, else mpirun (OMPI_MCA_pml=ob1 unless set, --bind-to "
                        "core for one thread per rank and none otherwise, --oversubscribe only when ranks exceed slots, "
                        "the root permissions only as root). OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are set to the "
                        "threads per rank. Prints the exact command before running it.",
                        specs, sep, argv, e);
    if (rc) return rc;
    if (sep + 1 >= argc)
        return error_set(e, RP_EINPUT, "launch: nothing to run: give the command after '--' (restpg launch --np 2 -- "
                         "restpg pretrain ...)");
    Words env = {0}, cmd = {0};
    Host *hosts = xcalloc(LAUNCH_MAX_HOSTS, sizeof *hosts, e);
    if (!hosts) return RP_ENOMEM;
    rc = launch_plan(&o, hosts, argv + sep + 1, argc - sep - 1, &env, &cmd, e);
    free(hosts);
    if (!rc) {
        FILE *out = o.dry_run ? stdout : stderr;
        for (int i = 0; i < env.n; i++) {
            print_word(out, env.v[i]);
            fputc(' ', out);
        }
        for (int i = 0; i < cmd.n; i++) {
            if (i) fputc(' ', out);
            print_word(out, cmd.v[i]);
        }
        fputc('\n', out);
        fflush(out);
    }
    if (!rc && !o.dry_run) {
        for (int i = 0; i < env.n && !rc; i++) {
            char *eq = strchr(env.v[i], '=');
            *eq = '\0';
            if (setenv(env.v[i], eq + 1, 1)) rc = error_set(e, RP_EIO, "launch: cannot set %s: %s", env.v[i], strerror(errno));
            *eq = '=';
        }
        if (!rc) {
            fflush(NULL);
            execvp(cmd.v[0], cmd.v);
            rc = error_set(e, errno == ENOENT ? RP_EINPUT : RP_EIO, "launch: cannot run %s: %s%s", cmd.v[0], strerror(errno),
                           errno == ENOENT ? " (is Open MPI / Slurm installed and on PATH?)" : "");
        }
    }
    words_free(&env);
    words_free(&cmd);
    return rc;
}

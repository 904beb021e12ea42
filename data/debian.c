/* The Debian-maintainer benchmark builder (see debian.h; the rules are in docs/debian.md).
 *
 * Three passes: read every Packages list keeping one entry per package name (highest version,
 * ties broken by content so the file order never matters); attach long descriptions from the
 * Translation-en lists by (package, Description-md5); then group eligible packages by
 * maintainer and assemble examples. Every choice (users, targets, profile items, splits) is
 * keyed by hashes of names and the seed, never by input order. */
#include "data/debian.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "data/aptlists.h"

typedef struct {
    char *name, *version, *user, *source, *section, *summary, *md5;
    char *longdesc;  /* rendered plain text; NULL until a list supplies it */
    uint64_t *tok;   /* sorted distinct token hashes of name + summary (profile ranking) */
    int ntok;
    int kept;        /* eligible and not a duplicate text within its maintainer */
} Pkg;

typedef struct {
    const DebianOptions *o;
    Pkg *p;
    int64_t n, cap;
    StrMap by_name;
    DebianStats st;
} Builder;

/* A generic sort record: string keys and a number, so qsort needs no context pointer. */
typedef struct {
    const char *k1, *k2;
    uint64_t h;
    int64_t idx;
} SortKey;

void debian_options_default(DebianOptions *o) {
    o->lists_dir = "/var/lib/apt/lists";
    o->min_items = 5;
    o->min_words = 10;
    o->seed = 1;
    o->max_users = 0;
    o->max_examples_per_user = 4;
    o->max_profile = 8;
}

int debian_options_check(const DebianOptions *o, Error *e) {
    if (o->min_items < 1) return error_set(e, RP_EINPUT, "--min-items must be >= 1 (got %ld)", o->min_items);
    if (o->min_words < 1) return error_set(e, RP_EINPUT, "--min-words must be >= 1 (got %ld)", o->min_words);
    if (o->max_users < 0) return error_set(e, RP_EINPUT, "--max-users must be >= 0 (got %ld)", o->max_users);
    if (o->max_examples_per_user < 1)
        return error_set(e, RP_EINPUT, "--max-examples-per-user must be >= 1 (got %ld)", o->max_examples_per_user);
    if (o->max_profile < o->min_items)
        return error_set(e, RP_EINPUT, "--max-profile (%ld) must be >= --min-items (%ld)", o->max_profile, o->min_items);
    return RP_OK;
}

static int cmp_k1_k2(const void *a, const void *b) {
    const SortKey *x = a, *y = b;
    int c = strcmp(x->k1, y->k1);
    return c ? c : strcmp(x->k2, y->k2);
}

static int cmp_h_k1(const void *a, const void *b) {
    const SortKey *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return strcmp(x->k1, y->k1);
}

static uint64_t seeded_hash(const char *domain, long seed, const char *s) {
    char head[64];
    int n = snprintf(head, sizeof head, "%s\n%ld\n", domain, seed);
    uint64_t h = hash_bytes(head, (size_t)n);
    return hash_bytes(s, strlen(s)) ^ (h * 0x9e3779b97f4a7c15ULL);
}

static char *dupn(const char *s, size_t n, Error *e) {
    char *p = xmalloc(n + 1, e);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void pkg_free(Pkg *p) {
    free(p->name), free(p->version), free(p->user), free(p->source), free(p->section), free(p->summary);
    free(p->md5), free(p->longdesc), free(p->tok);
    memset(p, 0, sizeof *p);
}

static size_t count_words(const char *s) {
    size_t n = 0;
    for (int in = 0; *s; s++) {
        int sp = isspace((unsigned char)*s);
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

/* 1 if needle (lower case) occurs in s ignoring case. */
static int contains_ci(const char *s, const char *needle) {
    size_t m = strlen(needle);
    for (; *s; s++) {
        size_t i = 0;
        while (i < m && s[i] && tolower((unsigned char)s[i]) == needle[i]) i++;
        if (i == m) return 1;
    }
    return 0;
}

/* Renders the continuation lines of a Description field (raw: the text after the short line's
 * '\n', each line with its leading space) as plain text: one leading blank stripped, " ." lines
 * become empty lines, runs of empty lines collapse to one, none at the start or end. */
static int render_long(const char *raw, char **out, Error *e) {
    StrBuf b;
    strbuf_init(&b);
    int pending_blank = 0;
    while (raw && *raw) {
        const char *nl = strchr(raw, '\n');
        size_t n = nl ? (size_t)(nl - raw) : strlen(raw);
        const char *l = raw + 1; /* the first character is the continuation marker */
        size_t ln = n ? n - 1 : 0;
        if (ln == 1 && l[0] == '.') ln = 0;
        if (ln == 0) {
            pending_blank = b.len > 0;
        } else {
            const char *sep = b.len == 0 ? "" : pending_blank ? "\n\n" : "\n";
            if (strbuf_puts(&b, sep, e) || strbuf_append(&b, l, ln, e)) {
                strbuf_free(&b);
                return RP_ENOMEM;
            }
            pending_blank = 0;
        }
        raw = nl ? nl + 1 : raw + n;
    }
    *out = b.s ? b.s : xstrdup("", e);
    return *out ? RP_OK : RP_ENOMEM;
}

static int check_utf8(const AptReader *r, const char *pkg, const char *field, const char *v, Error *e) {
    size_t bad;
    if (v && !utf8_valid(v, strlen(v), &bad))
        return error_set(e, RP_EINPUT, "%s: stanza at line %lld (package '%s'): field '%s' is not valid UTF-8 (byte %zu)",
                         r->path, (long long)r->stanza_line, pkg, field, bad);
    return RP_OK;
}

static const char *require(const AptReader *r, const char *field, int *rc, Error *e) {
    const char *v = apt_get(r, field);
    if (!v && !*rc)
        *rc = error_set(e, RP_EINPUT, "%s: stanza at line %lld: field '%s' is missing", r->path, (long long)r->stanza_line,
                        field);
    return v;
}

/* The user id of a Maintainer field: its e-mail address in lower case, or the whole field when it
 * has none, so one person's name spellings map to one user. */
static char *maintainer_id(const char *m, Error *e) {
    const char *lt = strchr(m, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (!lt || !gt || gt == lt + 1) return xstrdup(m, e);
    char *s = dupn(lt + 1, (size_t)(gt - lt - 1), e);
    for (char *c = s; c && *c; c++) *c = (char)tolower((unsigned char)*c);
    return s;
}

/* Total order over two entries of the same package name: the higher version wins; equal versions
 * fall back to content so that which list came first never matters. */
static int pkg_better(const Pkg *a, const Pkg *b) {
    int c = apt_version_cmp(a->version, b->version);
    if (c) return c > 0;
    const char *ka[] = {a->md5, a->user, a->source, a->section, a->summary, a->longdesc};
    const char *kb[] = {b->md5, b->user, b->source, b->section, b->summary, b->longdesc};
    for (int i = 0; i < 6; i++)
        if ((c = strcmp(ka[i] ? ka[i] : "", kb[i] ? kb[i] : ""))) return c < 0;
    return 0;
}

static int add_package(Builder *b, const AptReader *r, Error *e) {
    int rc = RP_OK;
    const char *name = require(r, "Package", &rc, e), *ver = require(r, "Version", &rc, e);
    const char *maint = require(r, "Maintainer", &rc, e), *desc = require(r, "Description", &rc, e);
    if (rc) return rc;
    const char *src = apt_get(r, "Source"), *sec = apt_get(r, "Section"), *md5 = apt_get(r, "Description-md5");
    const char *checks[][2] = {{"Package", name}, {"Maintainer", maint}, {"Description", desc}, {"Source", src}, {"Section", sec}};
    for (int i = 0; i < 5 && !rc; i++) rc = check_utf8(r, name, checks[i][0], checks[i][1], e);
    if (rc) return rc;
    Pkg c = {0};
    const char *nl = strchr(desc, '\n');
    const char *s = src ? src : name, *slash = sec ? strrchr(sec, '/') : NULL;
    c.name = xstrdup(name, e);
    c.version = xstrdup(ver, e);
    c.user = maintainer_id(maint, e);
    c.source = dupn(s, strcspn(s, " \t("), e);
    c.section = xstrdup(slash ? slash + 1 : sec ? sec : "unknown", e);
    c.summary = dupn(desc, nl ? (size_t)(nl - desc) : strlen(desc), e);
    c.md5 = md5 ? xstrdup(md5, e) : NULL;
    if (!c.name || !c.version || !c.user || !c.source || !c.section || !c.summary || (md5 && !c.md5) ||
        (nl && render_long(nl + 1, &c.longdesc, e))) {
        pkg_free(&c);
        return RP_ENOMEM;
    }
    int64_t *slot = strmap_slot(&b->by_name, c.name, strlen(c.name), -1, e);
    if (!slot) {
        pkg_free(&c);
        return RP_ENOMEM;
    }
    if (*slot >= 0) {
        Pkg *old = &b->p[*slot];
        if (pkg_better(&c, old)) {
            pkg_free(old);
            *old = c;
        } else {
            pkg_free(&c);
        }
        return RP_OK;
    }
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 4096;
        Pkg *np = xrealloc(b->p, sizeof(Pkg) * (size_t)cap, e);
        if (!np) {
            pkg_free(&c);
            return RP_ENOMEM;
        }
        b->p = np;
        b->cap = cap;
    }
    *slot = b->n;
    b->p[b->n++] = c;
    return RP_OK;
}

static int add_translation(Builder *b, const AptReader *r, Error *e) {
    int rc = RP_OK;
    const char *name = require(r, "Package", &rc, e), *md5 = require(r, "Description-md5", &rc, e);
    const char *desc = require(r, "Description-en", &rc, e);
    if (rc) return rc;
    int64_t i;
    if (!strmap_get(&b->by_name, name, strlen(name), &i)) return RP_OK;
    Pkg *p = &b->p[i];
    if (p->longdesc || !p->md5 || strcmp(p->md5, md5)) return RP_OK;
    if ((rc = check_utf8(r, name, "Description-en", desc, e))) return rc;
    const char *nl = strchr(desc, '\n');
    return render_long(nl ? nl + 1 : NULL, &p->longdesc, e);
}

static int read_list(Builder *b, const char *path, int translation, Error *e) {
    AptReader r;
    int rc = apt_open(&r, path, e), got = 0;
    if (rc) return rc;
    b->st.files++;
    while (!(rc = apt_next(&r, &got, e)) && got) {
        if (!translation) b->st.stanzas++;
        rc = translation ? add_translation(b, &r, e) : add_package(b, &r, e);
        if (rc) break;
    }
    apt_close(&r);
    return rc;
}

/* A package can be a target or a profile item when it has a long description of min_words words
 * and is not a transitional or dummy package (whose text is boilerplate, not the maintainer's). */
static int eligible(const Pkg *p, long min_words) {
    if (!p->longdesc || count_words(p->longdesc) < (size_t)min_words) return 0;
    return !contains_ci(p->summary, "transitional") && !contains_ci(p->summary, "transition package") &&
           !contains_ci(p->summary, "dummy") && !contains_ci(p->longdesc, "transitional package") &&
           !contains_ci(p->longdesc, "dummy package");
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct words (lower-cased letter/digit runs of 3+ characters, a few function words left out)
 * of a package's name and summary: what retrieval will see of an item, so what ranks it. */
static int tokenize(Pkg *p, Error *e) {
    static const char *stop[] = {"the", "and", "for", "with", "from", "this", "that", "into", "package"};
    const char *parts[2] = {p->name, p->summary};
    size_t cap = (strlen(p->name) + strlen(p->summary)) / 2 + 2;
    p->tok = xmalloc(sizeof(uint64_t) * cap, e);
    if (!p->tok) return RP_ENOMEM;
    p->ntok = 0;
    for (int k = 0; k < 2; k++) {
        const char *s = parts[k];
        while (*s) {
            while (*s && !isalnum((unsigned char)*s)) s++;
            char w[64];
            size_t n = 0;
            while (isalnum((unsigned char)*s)) {
                if (n < sizeof w - 1) w[n++] = (char)tolower((unsigned char)*s);
                s++;
            }
            w[n] = '\0';
            int skip = n < 3;
            for (size_t j = 0; j < sizeof stop / sizeof stop[0] && !skip; j++) skip = !strcmp(w, stop[j]);
            if (!skip && (size_t)p->ntok < cap) p->tok[p->ntok++] = hash_bytes(w, n);
        }
    }
    qsort(p->tok, (size_t)p->ntok, sizeof(uint64_t), cmp_u64);
    int m = 0;
    for (int i = 0; i < p->ntok; i++)
        if (m == 0 || p->tok[i] != p->tok[m - 1]) p->tok[m++] = p->tok[i];
    p->ntok = m;
    return RP_OK;
}

static int overlap(const Pkg *a, const Pkg *b) {
    int i = 0, j = 0, n = 0;
    while (i < a->ntok && j < b->ntok) {
        if (a->tok[i] == b->tok[j]) n++, i++, j++;
        else if (a->tok[i] < b->tok[j]) i++;
        else j++;
    }
    return n;
}

typedef struct {
    const char *uid;
    int64_t a, b; /* the user's kept packages: group[a..b) */
    uint64_t h;
} UserRange;

static int cmp_user_h(const void *x, const void *y) {
    const UserRange *u = x, *v = y;
    if (u->h != v->h) return u->h < v->h ? -1 : 1;
    return strcmp(u->uid, v->uid);
}

static int cmp_user_a(const void *x, const void *y) {
    const UserRange *u = x, *v = y;
    return (u->a > v->a) - (u->a < v->a);
}

/* Keeps, of each maintainer's eligible packages that share one exact long description, only the
 * one with the smallest name. */
static void mark_kept(Builder *b, SortKey *keys) {
    int64_t m = 0;
    for (int64_t i = 0; i < b->n; i++)
        if (eligible(&b->p[i], b->o->min_words)) keys[m++] = (SortKey){b->p[i].user, b->p[i].longdesc, 0, i};
    b->st.eligible = m;
    qsort(keys, (size_t)m, sizeof *keys, cmp_k1_k2);
    for (int64_t s = 0; s < m;) {
        int64_t t = s, best = keys[s].idx;
        while (t < m && !cmp_k1_k2(&keys[s], &keys[t])) {
            if (strcmp(b->p[keys[t].idx].name, b->p[best].name) < 0) best = keys[t].idx;
            t++;
        }
        b->p[best].kept = 1;
        s = t;
    }
}

static int source_key(StrBuf *k, const Pkg *p, Error *e) {
    strbuf_clear(k);
    return strbuf_printf(k, e, "%s\n%s", p->user, p->source);
}

/* Adds one example for target t of a user whose kept packages are group[a..b): the profile is
 * every other-source package, ranked by shared name/summary words with the target (+1 for the
 * same section), ties by name, cut at max_profile. */
static int add_example(Builder *b, Dataset *d, const SortKey *group, const UserRange *u, const Pkg *t,
                       const char *split, SortKey *cand, StrBuf *tmp, Error *e) {
    int64_t nc = 0;
    for (int64_t k = u->a; k < u->b; k++) {
        const Pkg *q = &b->p[group[k].idx];
        if (!strcmp(q->source, t->source)) continue;
        uint64_t score = (uint64_t)overlap(t, q) + !strcmp(q->section, t->section);
        cand[nc++] = (SortKey){q->name, q->name, UINT64_MAX - score, group[k].idx};
    }
    qsort(cand, (size_t)nc, sizeof *cand, cmp_h_k1);
    if (nc > b->o->max_profile) nc = b->o->max_profile;
    char id[512];
    snprintf(id, sizeof id, "debian/%s", t->name);
    strbuf_clear(tmp);
    int rc = strbuf_printf(tmp, e,
                           "Write the long description of the Debian package \"%s\" (section %s), whose short "
                           "description is \"%s\".",
                           t->name, t->section, t->summary);
    if (!rc) rc = dataset_add(d, id, u->uid, split, tmp->s, t->longdesc, NULL, e);
    for (int64_t k = 0; k < nc && !rc; k++) {
        const Pkg *q = &b->p[cand[k].idx];
        const char *vals[3] = {q->name, q->summary, q->longdesc};
        rc = dataset_add_item(d, vals, e);
    }
    b->st.items += nc;
    return rc ? error_wrap(e, "example '%s'", id) : RP_OK;
}

/* Groups kept packages by maintainer, picks users and targets, and fills d. */
static int assemble(Builder *b, Dataset *d, Error *e) {
    const DebianOptions *o = b->o;
    SortKey *group = xmalloc(sizeof(SortKey) * (size_t)(b->n + 1), e);
    SortKey *tk = xmalloc(sizeof(SortKey) * (size_t)(2 * b->n + 1), e); /* targets, then candidates */
    UserRange *users = xmalloc(sizeof(UserRange) * (size_t)(b->n + 1), e);
    StrMap src_count = {0};
    StrBuf key;
    strbuf_init(&key);
    int rc = (!group || !tk || !users) ? RP_ENOMEM : strmap_init(&src_count, 1024, e);
    if (rc) goto out;
    mark_kept(b, group);
    int64_t m = 0, nu = 0;
    for (int64_t i = 0; i < b->n && !rc; i++) {
        if (!b->p[i].kept) continue;
        group[m++] = (SortKey){b->p[i].user, b->p[i].name, 0, i};
        int64_t *c = source_key(&key, &b->p[i], e) ? NULL : strmap_slot(&src_count, key.s, key.len, 0, e);
        if (!c || tokenize(&b->p[i], e)) rc = RP_ENOMEM;
        else ++*c;
    }
    if (rc) goto out;
    qsort(group, (size_t)m, sizeof *group, cmp_k1_k2);
    /* A target needs min_items kept packages of its maintainer from other source packages;
     * group[k].h (unused by the sort above) records whether package k can be one. */
    for (int64_t s = 0, t; s < m && !rc; s = t) {
        for (t = s; t < m && !strcmp(group[t].k1, group[s].k1);) t++;
        int64_t valid = 0;
        for (int64_t k = s; k < t && !rc; k++) {
            int64_t c = 0;
            if (source_key(&key, &b->p[group[k].idx], e)) rc = RP_ENOMEM;
            else strmap_get(&src_count, key.s, key.len, &c);
            group[k].h = (t - s) - c >= o->min_items;
            valid += (int64_t)group[k].h;
        }
        if (valid) users[nu++] = (UserRange){group[s].k1, s, t, seeded_hash("user", o->seed, group[s].k1)};
    }
    if (rc) goto out;
    b->st.qualifying = nu;
    if (o->max_users > 0 && nu > o->max_users) {
        qsort(users, (size_t)nu, sizeof *users, cmp_user_h);
        nu = o->max_users;
        qsort(users, (size_t)nu, sizeof *users, cmp_user_a);
    }
    static const char *SPLITS[3] = {"train", "val", "test"};
    for (int64_t ui = 0; ui < nu && !rc; ui++) {
        const UserRange *u = &users[ui];
        uint64_t bucket = seeded_hash("split", o->seed, u->uid) % 100;
        int sp = bucket < 80 ? 0 : bucket < 90 ? 1 : 2;
        int64_t nt = 0;
        for (int64_t k = u->a; k < u->b; k++) {
            if (!group[k].h) continue;
            const char *name = b->p[group[k].idx].name;
            tk[nt++] = (SortKey){name, name, seeded_hash("example", o->seed, name), group[k].idx};
        }
        qsort(tk, (size_t)nt, sizeof *tk, cmp_h_k1);
        if (nt > o->max_examples_per_user) nt = o->max_examples_per_user;
        qsort(tk, (size_t)nt, sizeof *tk, cmp_k1_k2);
        /* Candidates reuse the tail of tk past the chosen targets. */
        for (int64_t k = 0; k < nt && !rc; k++)
            rc = add_example(b, d, group, u, &b->p[tk[k].idx], SPLITS[sp], tk + nt, &key, e);
        b->st.users[sp]++;
        b->st.examples[sp] += nt;
    }
out:
    free(group);
    free(tk);
    free(users);
    strmap_free(&src_count);
    strbuf_free(&key);
    return rc;
}

int debian_build(const DebianOptions *o, Dataset *d, DebianStats *st, Error *e) {
    int rc = dataset_init(d, "package_description", e);
    if (rc) return rc;
    Builder b;
    memset(&b, 0, sizeof b);
    b.o = o;
    char **pk = NULL, **tr = NULL;
    int npk = 0, ntr = 0;
    if ((rc = debian_options_check(o, e)) || (rc = strmap_init(&b.by_name, 1 << 16, e)) ||
        (rc = apt_list_dir(o->lists_dir, &pk, &npk, &tr, &ntr, e)))
        goto out;
    /* Packages first: the Translation-en entries worth keeping are those the kept packages name. */
    for (int i = 0; i < npk && !rc; i++) rc = read_list(&b, pk[i], 0, e);
    for (int i = 0; i < ntr && !rc; i++) rc = read_list(&b, tr[i], 1, e);
    if (rc) goto out;
    b.st.packages = b.n;
    if ((rc = assemble(&b, d, e))) goto out;
    if (d->n == 0) {
        rc = error_set(e, RP_EINPUT,
                       "%s: no maintainer has a package with %ld profile-eligible packages (%lld packages, %lld with a "
                       "usable long description; are the Translation-en lists there?)",
                       o->lists_dir, o->min_items, (long long)b.st.packages, (long long)b.st.eligible);
        goto out;
    }
    rc = dataset_validate(d, o->lists_dir, e);
out:
    if (st) *st = b.st;
    for (int64_t i = 0; i < b.n; i++) pkg_free(&b.p[i]);
    free(b.p);
    strmap_free(&b.by_name);
    apt_paths_free(pk, npk);
    apt_paths_free(tr, ntr);
    if (rc) dataset_free(d);
    return rc;
}

/* The Debian-maintainer benchmark builder on small fixture lists written here (plain, one-frame
 * and two-frame lz4): the md5 join, version choice, source exclusion, duplicate dropping,
 * min-items, the caps, the user split (disjoint, seed-determined, file-order independent), dpkg
 * version order, and the errors bad lists give. */
#include <lz4frame.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/text.h"
#include "data/aptlists.h"
#include "data/debian.h"
#include "tests/test.h"

static Error E;

/* mode 0: plain; 1: one lz4 frame; 2: two lz4 frames (split mid-text); 3: garbage; 4: truncated lz4. */
static void write_file(const char *dir, const char *name, const char *text, int mode) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    size_t n = strlen(text);
    if (mode == 0) fwrite(text, 1, n, f);
    else if (mode == 3) fputs("this is not lz4 at all\n", f);
    else {
        size_t parts = mode == 2 ? 2 : 1, done = 0;
        for (size_t p = 0; p < parts; p++) {
            size_t len = p + 1 == parts ? n - done : n / 2;
            size_t cap = LZ4F_compressFrameBound(len, NULL);
            char *buf = malloc(cap);
            size_t w = LZ4F_compressFrame(buf, cap, text + done, len, NULL);
            CHECK(!LZ4F_isError(w));
            fwrite(buf, 1, mode == 4 ? w - 7 : w, f);
            free(buf);
            done += len;
        }
    }
    fclose(f);
}

static void pkg(StrBuf *b, const char *name, const char *source, const char *version, const char *maint,
                const char *section, const char *summary, const char *md5) {
    strbuf_printf(b, &E, "Package: %s\n", name);
    if (source) strbuf_printf(b, &E, "Source: %s\n", source);
    strbuf_printf(b, &E, "Version: %s\nInstalled-Size: 10\nMaintainer: %s\nArchitecture: amd64\nDescription: %s\n"
                  "Description-md5: %s\nTag: role::program,\n interface::commandline\nSection: %s\n\n",
                  version, maint, summary, md5, section);
}

static void tr(StrBuf *b, const char *name, const char *md5, const char *summary, const char *raw_long) {
    strbuf_printf(b, &E, "Package: %s\nDescription-md5: %s\nDescription-en: %s\n%s\n\n", name, md5, summary, raw_long);
}

/* A long description in list form (" " + line, " ." for an empty line) with 12+ distinct words. */
static void raw_text(char *out, size_t n, const char *topic) {
    snprintf(out, n, " %s is a tool that does useful work for people who need it.\n .\n It has several\n"
             "  verbatim  lines\n and more prose about %s here.", topic, topic);
}

/* The fixture: lists in dir; `swap` names the files so that they sort in the other order. */
static void write_fixture(const char *dir, int swap) {
    mkdir(dir, 0755);
    StrBuf p1, t1, p2, t2;
    strbuf_init(&p1), strbuf_init(&t1), strbuf_init(&p2), strbuf_init(&t2);
    char raw[512], md5[128], name[64], maint[128];
    const char *alice = "Alice Smith <alice@example.org>";
    /* alice: alpha + alpha-doc share source alpha; beta..zeta distinct sources. */
    const char *alice_pk[][2] = {{"alpha", NULL}, {"alpha-doc", "alpha (1.0-1)"}, {"beta", NULL}, {"gamma", NULL},
                                 {"delta", NULL}, {"epsilon", NULL}, {"zeta", NULL}, {"eta", NULL}, {"theta", NULL},
                                 {"alpha-tools", "alphatools"}};
    for (size_t i = 0; i < sizeof alice_pk / sizeof alice_pk[0]; i++) {
        const char *nm = alice_pk[i][0];
        snprintf(md5, sizeof md5, "md5-%s", nm);
        /* eta and theta: the exact same long text (theta is dropped). */
        raw_text(raw, sizeof raw, !strcmp(nm, "theta") ? "eta" : nm);
        int z = !strcmp(nm, "zeta");
        pkg(&p1, nm, alice_pk[i][1], "1.0-1", z ? "A. Smith <ALICE@example.org>" : alice, z ? "misc" : "utils", nm, md5);
        tr(&t1, nm, md5, nm, raw);
    }
    /* gamma: a newer version in the security lists with a new text; an old-md5 entry stays there. */
    pkg(&p2, "gamma", NULL, "1.0-1+deb12u1", alice, "main/utils", "gamma", "md5-gamma-new");
    tr(&t2, "gamma", "md5-gamma-new", "gamma", " The patched gamma text has enough words to count as a description.");
    /* Ineligible: transitional and too-short packages. */
    pkg(&p1, "oldalpha", NULL, "1", alice, "oldlibs", "transitional package for alpha", "md5-old");
    raw_text(raw, sizeof raw, "oldalpha");
    tr(&t1, "oldalpha", "md5-old", "transitional package for alpha", raw);
    pkg(&p1, "shorty", NULL, "1", alice, "utils", "short one", "md5-short");
    tr(&t1, "shorty", "md5-short", "short one", " Too short to use.");
    /* bob: four packages, below the default min-items. */
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "bob%d", i);
        snprintf(md5, sizeof md5, "md5-%s", name);
        raw_text(raw, sizeof raw, name);
        pkg(&p1, name, NULL, "2.0", "Bob <bob@example.org>", "net", name, md5);
        tr(&t1, name, md5, name, raw);
    }
    /* 40 more users with 6 single-binary sources each, for the split. */
    for (int u = 0; u < 40; u++)
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof name, "u%02dp%d", u, i);
            snprintf(md5, sizeof md5, "md5-%s", name);
            snprintf(maint, sizeof maint, "User %d <user%d@example.org>", u, u);
            raw_text(raw, sizeof raw, name);
            pkg(u % 2 ? &p1 : &p2, name, NULL, "1", maint, "misc", name, md5);
            tr(u % 2 ? &t1 : &t2, name, md5, name, raw);
        }
    write_file(dir, swap ? "z_main_binary-amd64_Packages" : "a_main_binary-amd64_Packages", p1.s, 0);
    write_file(dir, swap ? "z_main_i18n_Translation-en.lz4" : "a_main_i18n_Translation-en.lz4", t1.s, 2);
    write_file(dir, swap ? "b_security_binary-amd64_Packages.lz4" : "s_security_binary-amd64_Packages.lz4", p2.s, 1);
    write_file(dir, swap ? "b_security_i18n_Translation-en" : "s_security_i18n_Translation-en", t2.s, 0);
    write_file(dir, "x_Packages.xz", "ignored", 0);
    strbuf_free(&p1), strbuf_free(&t1), strbuf_free(&p2), strbuf_free(&t2);
}

static int64_t find(const Dataset *d, const char *pkgname) {
    char id[128];
    snprintf(id, sizeof id, "debian/%s", pkgname);
    return dataset_find(d, id);
}

static int profile_has(const Dataset *d, int64_t i, const char *pkgname) {
    for (int64_t j = 0; j < dataset_n_items(d, i); j++)
        if (!strcmp(dataset_item(d, i, j)[0], pkgname)) return 1;
    return 0;
}

static int anywhere(const Dataset *d, const char *pkgname) {
    if (find(d, pkgname) >= 0) return 1;
    for (int64_t k = 0; k < d->n_items; k++)
        if (!strcmp(d->items[k * d->n_fields], pkgname)) return 1;
    return 0;
}

static int same_content(const Dataset *a, const Dataset *b) {
    if (a->n != b->n || a->n_items != b->n_items) return 0;
    for (int64_t i = 0; i < a->n; i++) {
        if (strcmp(a->id[i], b->id[i]) || strcmp(a->user[i], b->user[i]) || strcmp(a->split[i], b->split[i]) ||
            strcmp(a->input[i], b->input[i]) || strcmp(a->output[i], b->output[i]) || a->prof_off[i + 1] != b->prof_off[i + 1])
            return 0;
    }
    for (int64_t k = 0; k < a->n_items * a->n_fields; k++)
        if (strcmp(a->items[k], b->items[k])) return 0;
    return 1;
}

static void test_content(const char *dir) {
    DebianOptions o;
    debian_options_default(&o);
    o.lists_dir = dir;
    o.max_examples_per_user = 100;
    o.max_profile = 100;
    Dataset d;
    DebianStats st;
    CHECK_OK(debian_build(&o, &d, &st, &E), &E);
    CHECK(st.files == 4);
    CHECK(st.qualifying == 41); /* alice + 40; bob has too few */
    int64_t a = find(&d, "alpha"), b = find(&d, "beta"), g = find(&d, "gamma"), z = find(&d, "zeta");
    CHECK(a >= 0 && b >= 0 && g >= 0 && z >= 0);
    if (a < 0 || b < 0 || g < 0 || z < 0) return;
    /* zeta's maintainer spells the name and address differently: the same user. */
    CHECK_STR(d.user[a], "alice@example.org");
    CHECK_STR(d.user[z], "alice@example.org");
    CHECK_STR(d.input[a], "Write the long description of the Debian package \"alpha\" (section utils), whose short "
                          "description is \"alpha\".");
    CHECK_STR(d.output[a], "alpha is a tool that does useful work for people who need it.\n\nIt has several\n"
                           " verbatim  lines\nand more prose about alpha here.");
    /* The security list's newer version wins, joined with its own md5's text; its section loses the component. */
    CHECK_STR(d.output[g], "The patched gamma text has enough words to count as a description.");
    CHECK(strstr(d.input[g], "(section utils)") != NULL);
    /* Source exclusion: alpha's profile never holds alpha-doc, beta's may. */
    CHECK(!profile_has(&d, a, "alpha-doc") && !profile_has(&d, a, "alpha"));
    CHECK(profile_has(&d, b, "alpha-doc") && profile_has(&d, b, "alpha"));
    CHECK(find(&d, "alpha-doc") >= 0 && !profile_has(&d, find(&d, "alpha-doc"), "alpha"));
    /* Duplicate text: eta kept (smaller name), theta gone; ineligible ones gone; bob too small. */
    CHECK(anywhere(&d, "eta") && !anywhere(&d, "theta"));
    CHECK(!anywhere(&d, "oldalpha") && !anywhere(&d, "shorty") && !anywhere(&d, "bob0"));
    for (int64_t i = 0; i < d.n; i++) CHECK(dataset_n_items(&d, i) >= 5);
    /* Ranking: shared name/summary words (alpha-tools), then the same section, then the name. */
    const char *order[] = {"alpha-tools", "beta", "delta", "epsilon", "eta", "gamma", "zeta"};
    CHECK(dataset_n_items(&d, a) == 7);
    for (int64_t j = 0; j < dataset_n_items(&d, a) && j < 7; j++) CHECK_STR(dataset_item(&d, a, j)[0], order[j]);
    /* The profile item fields: package, summary, long description. */
    for (int64_t j = 0; j < dataset_n_items(&d, b); j++) {
        char **it = dataset_item(&d, b, j);
        if (!strcmp(it[0], "gamma")) CHECK_STR(it[2], "The patched gamma text has enough words to count as a description.");
    }
    dataset_free(&d);

    o.min_items = 3;
    CHECK_OK(debian_build(&o, &d, &st, &E), &E);
    CHECK(anywhere(&d, "bob0") && st.qualifying == 42);
    dataset_free(&d);
}

static void test_split_and_caps(const char *dir, const char *dir_swapped) {
    DebianOptions o;
    debian_options_default(&o);
    o.lists_dir = dir;
    Dataset d1, d2, d3, d4;
    CHECK_OK(debian_build(&o, &d1, NULL, &E), &E);
    CHECK_OK(debian_build(&o, &d2, NULL, &E), &E);
    CHECK(same_content(&d1, &d2));
    o.lists_dir = dir_swapped;
    CHECK_OK(debian_build(&o, &d3, NULL, &E), &E);
    CHECK_MSG(same_content(&d1, &d3), "file order changed the dataset");
    o.lists_dir = dir;
    o.seed = 2;
    CHECK_OK(debian_build(&o, &d4, NULL, &E), &E);
    /* Disjoint: one split per user. Another seed moves some user. */
    StrMap split_of;
    CHECK_OK(strmap_init(&split_of, 64, &E), &E);
    int64_t per_split[3] = {0}, moved = 0;
    for (int64_t i = 0; i < d1.n; i++) {
        int s = !strcmp(d1.split[i], "train") ? 0 : !strcmp(d1.split[i], "val") ? 1 : 2;
        int64_t prev;
        if (strmap_get(&split_of, d1.user[i], strlen(d1.user[i]), &prev)) CHECK(prev == s);
        else {
            strmap_put(&split_of, d1.user[i], strlen(d1.user[i]), s, &E);
            per_split[s]++;
        }
        CHECK(dataset_n_items(&d1, i) <= 8);
    }
    CHECK(per_split[0] > per_split[1] && per_split[0] > per_split[2] && per_split[0] + per_split[1] + per_split[2] == 41);
    for (int64_t i = 0; i < d4.n; i++) {
        int s = !strcmp(d4.split[i], "train") ? 0 : !strcmp(d4.split[i], "val") ? 1 : 2;
        int64_t prev = -1;
        strmap_get(&split_of, d4.user[i], strlen(d4.user[i]), &prev);
        moved += prev != s;
    }
    CHECK_MSG(moved > 0, "seed 2 gave the same split as seed 1");
    strmap_free(&split_of);
    dataset_free(&d1), dataset_free(&d2), dataset_free(&d3), dataset_free(&d4);

    o.seed = 1;
    o.max_users = 10;
    o.max_examples_per_user = 2;
    o.max_profile = 5;
    DebianStats st;
    CHECK_OK(debian_build(&o, &d1, &st, &E), &E);
    CHECK(st.users[0] + st.users[1] + st.users[2] == 10 && d1.n == 20 && st.qualifying == 41);
    for (int64_t i = 0; i < d1.n; i++) CHECK(dataset_n_items(&d1, i) == 5);
    dataset_free(&d1);
    o.max_profile = 4; /* below min-items */
    CHECK(debian_build(&o, &d1, NULL, &E) == RP_EINPUT && strstr(E.msg, "--max-profile"));
}

static void expect_error(const char *dir, const char *what, const char *const *needles) {
    DebianOptions o;
    debian_options_default(&o);
    o.lists_dir = dir;
    Dataset d;
    int rc = debian_build(&o, &d, NULL, &E);
    CHECK_MSG(rc == RP_EINPUT, "%s: rc %d", what, rc);
    for (; *needles; needles++) CHECK_MSG(strstr(E.msg, *needles) != NULL, "%s: '%s' not in: %s", what, *needles, E.msg);
}

static void test_errors(const char *base) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/missing", base);
    expect_error(dir, "missing dir", (const char *[]){dir, "cannot read", NULL});

    snprintf(dir, sizeof dir, "%s/empty", base);
    mkdir(dir, 0755);
    write_file(dir, "foo_Translation-en", "Package: a\nDescription-md5: x\nDescription-en: y\n", 0);
    expect_error(dir, "no Packages", (const char *[]){dir, "no Packages files", NULL});

    StrBuf t;
    strbuf_init(&t);
    pkg(&t, "one", NULL, "1", "M <m@x.org>", "misc", "one", "m1");
    strbuf_puts(&t, "Version: 1\nMaintainer: M <m@x.org>\nDescription: nameless\n\n", &E);
    snprintf(dir, sizeof dir, "%s/nopkg", base);
    mkdir(dir, 0755);
    write_file(dir, "x_Packages", t.s, 0);
    expect_error(dir, "no Package", (const char *[]){"x_Packages", "line 12", "'Package'", NULL});
    snprintf(path, sizeof path, "%s/x_Packages", dir);
    unlink(path);
    write_file(dir, "x_Packages.lz4", t.s, 1);
    expect_error(dir, "no Package (lz4)", (const char *[]){"x_Packages.lz4", "line 12", "'Package'", NULL});

    snprintf(dir, sizeof dir, "%s/corrupt", base);
    mkdir(dir, 0755);
    write_file(dir, "x_Packages.lz4", t.s, 3);
    expect_error(dir, "corrupt lz4", (const char *[]){"x_Packages.lz4", "corrupt lz4", NULL});
    write_file(dir, "x_Packages.lz4", t.s, 4);
    expect_error(dir, "truncated lz4", (const char *[]){"x_Packages.lz4", "truncated", NULL});
    write_file(dir, "x_Packages.lz4", "", 0);
    expect_error(dir, "empty lz4", (const char *[]){"x_Packages.lz4", "truncated", NULL});

    snprintf(dir, sizeof dir, "%s/badline", base);
    mkdir(dir, 0755);
    write_file(dir, "x_Packages", "Package: a\nthis line has no colon\n", 0);
    expect_error(dir, "bad line", (const char *[]){"x_Packages", "line 2", "Field: value", NULL});
    write_file(dir, "x_Packages", " continuation first\n", 0);
    expect_error(dir, "stray continuation", (const char *[]){"x_Packages", "line 1", NULL});
    write_file(dir, "x_Packages", "Package: a\nVersion: 1\nDescription: d\n", 0);
    expect_error(dir, "no Maintainer", (const char *[]){"x_Packages", "line 1", "'Maintainer'", NULL});
    write_file(dir, "x_Packages", "Package: a\nVersion: 1\nMaintainer: M\nDescription: caf\xe9\n", 0);
    expect_error(dir, "bad utf8", (const char *[]){"x_Packages", "'Description'", "UTF-8", NULL});
    /* Well-formed lists whose packages have no long description: nobody qualifies. */
    strbuf_clear(&t);
    pkg(&t, "one", NULL, "1", "M <m@x.org>", "misc", "one", "m1");
    write_file(dir, "x_Packages", t.s, 0);
    expect_error(dir, "no users", (const char *[]){dir, "no maintainer", NULL});
    strbuf_free(&t);
}

static void test_versions(void) {
    CHECK(apt_version_cmp("1.0-1", "1.0-2") < 0);
    CHECK(apt_version_cmp("1:0.1", "2.0") > 0);
    CHECK(apt_version_cmp("1.0~rc1", "1.0") < 0);
    CHECK(apt_version_cmp("1.0", "1.0a") < 0);
    CHECK(apt_version_cmp("1.0.10", "1.0.9") > 0);
    CHECK(apt_version_cmp("1.0-1+deb12u1", "1.0-1") > 0);
    CHECK(apt_version_cmp("0.0.26-3", "0.0.26-3") == 0);
    CHECK(apt_version_cmp("2.0-1", "2.0-1~bpo1") > 0);
}

int main(void) {
    error_clear(&E);
    const char *tmp = getenv("RESTPG_TEST_TMP");
    char base[512], dir[600], dir2[600], cmd[1100];
    snprintf(base, sizeof base, "%s/test_debian_%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(base, 0755);
    snprintf(dir, sizeof dir, "%s/lists", base);
    snprintf(dir2, sizeof dir2, "%s/swapped", base);
    write_fixture(dir, 0);
    write_fixture(dir2, 1);
    test_versions();
    test_content(dir);
    test_split_and_caps(dir, dir2);
    test_errors(base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    return test_summary("test_debian");
}

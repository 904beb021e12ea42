/* Dataset: build, validate, HDF5 round trip, and the errors a bad file gives. */
#include <stdlib.h>
#include <unistd.h>

#include "data/dataset.h"
#include "tests/test.h"

static void build(Dataset *d, Error *e) {
    CHECK_OK(dataset_init(d, "email_completion", e), e);
    CHECK_OK(dataset_add(d, "a1", "u1", "train", "Write: hi", "Hello there ✓", NULL, e), e);
    const char *it1[] = {"subject one", "text one"};
    const char *it2[] = {"subject two", "text two ünïcode"};
    CHECK_OK(dataset_add_item(d, it1, e), e);
    CHECK_OK(dataset_add_item(d, it2, e), e);
    CHECK_OK(dataset_add(d, "a2", "u2", "test", "Write: bye", "Bye", "because", e), e);
    CHECK_OK(dataset_add_item(d, it1, e), e);
}

int main(void) {
    Error e;
    error_clear(&e);
    char path[512];
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(path, sizeof path, "%s/test_dataset_%d.h5", tmp ? tmp : "/tmp", (int)getpid());

    Dataset d;
    build(&d, &e);
    CHECK_OK(dataset_validate(&d, "mem", &e), &e);
    CHECK(dataset_add(&d, "a1", "u9", "train", "x", "y", NULL, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "duplicate id 'a1'") != NULL);
    CHECK(dataset_add(&d, "bad", "u9", "train", "x\xff", "y", NULL, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "'input'") != NULL);
    CHECK_OK(dataset_write(&d, path, &e), &e);

    Dataset r;
    CHECK_OK(dataset_read(path, &r, &e), &e);
    CHECK(r.n == 2 && r.n_items == 3);
    CHECK_STR(r.output[0], "Hello there ✓");
    CHECK_STR(r.reasoning[1], "because");
    CHECK_STR(dataset_item(&r, 0, 1)[1], "text two ünïcode");
    CHECK(dataset_find(&r, "a2") == 1 && dataset_find(&r, "zz") == -1);
    dataset_free(&r);
    dataset_free(&d);

    /* An empty profile is an input error naming the record and field. */
    Dataset bad;
    CHECK_OK(dataset_init(&bad, "email_completion", &e), &e);
    CHECK_OK(dataset_add(&bad, "x", "u", "train", "i", "o", NULL, &e), &e);
    CHECK(dataset_validate(&bad, "f.json", &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "f.json") && strstr(e.msg, "'profile'"));
    dataset_free(&bad);

    /* Truncated and foreign files give clear errors, never a crash. */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fclose(f);
        CHECK(truncate(path, 300) == 0);
    }
    CHECK(dataset_read(path, &r, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, path) != NULL);
    f = fopen(path, "wb");
    fputs("not hdf5", f);
    fclose(f);
    CHECK(dataset_read(path, &r, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "not an HDF5 file") != NULL);
    unlink(path);
    CHECK(dataset_read(path, &r, &e) == RP_EINPUT);
    return test_summary("test_dataset");
}

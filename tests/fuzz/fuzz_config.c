/* Fuzz target: the run config's YAML reader (launch/config.c): load, check, and print back, the
 * three things `restpg run` does with a config before any stage starts. */
#include "core/text.h"
#include "launch/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    RunConfig c;
    Error e;
    config_defaults(&c);
    if (!config_load(&c, fuzz_file(0, data, size, ".yaml"), &e) && !config_check(&c, &e)) {
        StrBuf b;
        strbuf_init(&b);
        config_to_yaml(&c, &b, &e);
        strbuf_free(&b);
    }
    config_free(&c);
    return 0;
}

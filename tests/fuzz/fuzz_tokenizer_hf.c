/* Fuzz target: Hugging Face tokenizer.json files (data/tokenizer_hf*.c). A file that loads is then
 * used -- encode and decode of a fixed text with ASCII, multi-byte UTF-8, invalid bytes, white
 * space runs and the texts of common special and added tokens -- and must survive RPHF: its
 * serialisation must load again and serialise to the same bytes, which aborts otherwise (a JSON
 * that loads once but not from its own copy would make checkpoints unreadable). */
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "data/tokenizer.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tokenizer *t = NULL, *u = NULL;
    Error e;
    if (tokenizer_load(fuzz_file(0, data, size, ".json"), &t, &e)) return 0;
    static const char text[] = "Hello, world!  caf\xc3\xa9 cafe\xcc\x81 \xe2\x96\x81x <unused0> <s> <|endoftext|> <think>\n\n"
                               "\ttabs 12345 \xff\xfe \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd I'm \xe6\x97\xa5\xe6\x9c\xac  ";
    TokenVec ids;
    StrBuf back;
    tokvec_init(&ids);
    strbuf_init(&back);
    if (!tokenizer_encode(t, text, sizeof text - 1, &ids, &e)) tokenizer_decode(t, ids.v, ids.n, &back, &e);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (!tokenizer_serialize(t, &a, &na, &e)) {
        if (tokenizer_deserialize(a, na, "fuzz", &u, &e) || tokenizer_serialize(u, &b, &nb, &e) || na != nb ||
            memcmp(a, b, na))
            abort();
    }
    free(a);
    free(b);
    tokvec_free(&ids);
    strbuf_free(&back);
    tokenizer_free(u);
    tokenizer_free(t);
    return 0;
}

/* Fuzz target: tokenizer files (data/tokenizer_io.c: RPTK byte-level BPE and RPSP SentencePiece).
 * A file that loads is then used -- encode and decode of a fixed text that has ASCII, multi-byte
 * UTF-8 and the special markers -- since tables that pass the loader but are inconsistent would
 * only crash there. */
#include "core/text.h"
#include "data/tokenizer.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tokenizer *t = NULL;
    Error e;
    if (tokenizer_load(fuzz_file(0, data, size, ".tok"), &t, &e)) return 0;
    static const char text[] = "Hello, world!  caf\xc3\xa9 \xe2\x96\x81x <unused0> \n\ttabs 12345";
    TokenVec ids;
    StrBuf back;
    tokvec_init(&ids);
    strbuf_init(&back);
    if (!tokenizer_encode(t, text, sizeof text - 1, &ids, &e)) tokenizer_decode(t, ids.v, ids.n, &back, &e);
    tokvec_free(&ids);
    strbuf_free(&back);
    tokenizer_free(t);
    return 0;
}

"""Reference data for tests/test_tokenizer_spm.c: a GGUF's SentencePiece vocabulary (read with the
PyPI `gguf` package) and llama.cpp's tokenization of many texts (through llama-cpp-python).

    python spm_ref.py MODEL.gguf OUT_DIR

Writes OUT_DIR/vocab.txt:
    spm_ref 1 N BOS EOS UNK PAD ADD_BOS ADD_SPACE_PREFIX
    then N lines "TYPE SCORE_BITS PIECE_HEX" (the float32 score as its 8 hex-digit bit pattern, so
    ties compare exactly; the piece's bytes in hex)
and OUT_DIR/cases.txt, one text per line: "TEXT_HEX<TAB>IDS<TAB>DETOKENIZED_HEX" (ids space
separated; "-" stands for an empty field). Exits 77 (skip) when llama_cpp cannot be imported.
"""
import random
import struct
import sys

import gguf

try:
    import llama_cpp
except ImportError as err:  # the venv was made with RESTPG_NO_LLAMA=1
    print(f"spm_ref: llama_cpp unavailable ({err}); skipping", file=sys.stderr)
    sys.exit(77)

CASES = [
    "",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "multiple   spaces    inside     words",
    " ",
    "  ",
    "                                          ",  # longer than Gemma's longest space run
    "\t",
    "tab\tseparated\tvalues",
    "\t\tindented with tabs",
    "line one\nline two\n",
    "\n",
    "\n\n\nthree newlines first",
    "windows\r\nline endings\r\n",
    "mixed \t \n \r\n whitespace \u00a0 nbsp \u3000 ideographic",
    "Tokenization isn't trivial: it's got contractions, e.g. don't, won't, y'all.",
    "ALL CAPS SENTENCE WITH NUMBERS 1234567890",
    "3.14159 2.71828 -42 +7 1e-9 0x1F 1,000,000 12:30 2025-01-31",
    "Prices: $19.99, €5, £3.50, ¥1000, ₹250",
    "https://example.com/path/to/page?query=1&lang=en#section",
    "email me at someone.name+tag@example.co.uk",
    "日本語のテキストをトークン化します。",
    "中文分词测试：今天天气很好，我们去公园散步吧。",
    "한국어 문장도 포함합니다.",
    "العربية: مرحبا بالعالم، كيف حالك؟",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया, आप कैसे हैं?",
    "தமிழ் மொழி",
    "ไทย: สวัสดีครับ",
    "Ελληνικά: Γειά σου Κόσμε",
    "Русский текст: Привет, мир!",
    "emoji: 😀😃😄 👍🏽 ❤️ 🎉",
    "ZWJ family: 👨‍👩‍👧‍👦 and 🏳️‍🌈 and 👩🏾‍💻",
    "flags: 🇺🇸🇯🇵🇩🇪🇧🇷",
    "combining marks: e\u0301 a\u0300 n\u0303 o\u0308 Z\u0351\u0327\u0300",
    "Zalgo: Ţ̷̛h̸̡i̵͠s̶̨ ̴̢i̷͡s̵̨",
    "ligatures ﬁ ﬂ and fullwidth ＡＢＣ１２３",
    "math: ∀x ∈ ℝ, x² ≥ 0; ∑_{i=1}^n i = n(n+1)/2",
    "def f(x):\n    if x > 0:\n        return {'a': [1, 2, 3]}\n    return None\n",
    "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "    four-space indent\n        eight-space indent\n",
    "{\"json\": {\"key\": [1, 2.5, null, true], \"s\": \"v\"}}",
    "<div class=\"x\"><p>HTML <b>bold</b> <i>it</i></p></div>",
    "<table><tr><td>cell</td></tr></table>",
    "markdown: # Title\n\n- item *one*\n- item **two**\n\n```python\nprint(1)\n```",
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "<eos> plain text, not the eos token",
    "<bos><pad><unk><mask>",
    "<unused0> and <unused1> as plain text",
    "[multimodal] marker as text",
    "<0x41> looks like a byte token",
    "▁ a literal lower one eighth block ▁▁",
    "repeated letters: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "repeated punctuation!!!!!!!!?????......------",
    "CamelCaseIdentifiersAndSnake_case_names_mixed123",
    "Mr. O'Neil-Smith's café, naïve résumé, coöperate, façade",
    "\u200b zero width space \u200c zwnj \u200d zwj \ufeff bom",
    "control chars \x01\x02\x1f\x7f end",
    "private use \ue000\uf8ff and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈",
    "a",
    "A",
    "0",
    "😀",
    ".",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
]


def random_texts(rng, n):
    """Random strings mixing scripts, emoji, spaces and specials-looking text, to widen coverage."""
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        " \t\n" * 4,
        ".,;:!?'\"()[]{}<>/\\|-_=+*&^%$#@~`",
        "日本語中文한국어العربيةहिन्दीไทยΕλληνικάРусский",
        "😀👍🏽❤️🎉👨‍👩‍👧‍👦🇺🇸\u0301\u200d",
    ]
    words = ["<eos>", "<start_of_turn>", "<unused0>", "[multimodal]", "<b>", "</p>", "    ", "\n\n", "\t\t\t", "▁"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 30)):
            if rng.random() < 0.1:
                parts.append(rng.choice(words))
            else:
                pool = rng.choice(pools)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        out.append("".join(parts))
    return out


def field_value(reader, key, default):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.parts[f.data[0]][0].item()


def main():
    path, out = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(path)
    tf = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(tf.parts[i]) for i in tf.data]
    n = len(tokens)
    sf, yf = r.fields.get("tokenizer.ggml.scores"), r.fields.get("tokenizer.ggml.token_type")
    scores = [float(sf.parts[i][0]) for i in sf.data] if sf else [0.0] * n
    types = [int(yf.parts[i][0]) for i in yf.data] if yf else [1] * n
    # llama.cpp's defaults for an SPM vocabulary where the file has no key.
    opts = [field_value(r, "tokenizer.ggml." + k, d) for k, d in
            [("bos_token_id", 1), ("eos_token_id", 2), ("unknown_token_id", 0), ("padding_token_id", -1),
             ("add_bos_token", True), ("add_space_prefix", True)]]
    with open(f"{out}/vocab.txt", "w") as f:
        f.write("spm_ref 1 %d %d %d %d %d %d %d\n" % (n, *[int(x) for x in opts]))
        for t, s, y in zip(tokens, scores, types):
            bits = struct.unpack("<I", struct.pack("<f", s))[0]
            f.write("%d %08x %s\n" % (y, bits, t.hex()))

    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    texts = CASES + random_texts(random.Random(20250131), 300)
    mismatched = 0
    with open(f"{out}/cases.txt", "w") as f:
        for text in texts:
            b = text.encode()
            ids = llm.tokenize(b, add_bos=False, special=False)
            back = llm.detokenize(ids)
            mismatched += back != b
            f.write("%s\t%s\t%s\n" % (b.hex() or "-", " ".join(map(str, ids)) or "-", back.hex() or "-"))
    print(f"spm_ref: {n} tokens, {len(texts)} texts ({len(CASES)} hand-written), "
          f"{mismatched} where llama.cpp's detokenize differs from the text")


if __name__ == "__main__":
    main()

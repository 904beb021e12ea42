#!/usr/bin/env python3
"""Writes tests/reference/gpt2_encodings.jsonl: GPT-2 token ids of varied strings, computed by an
independent implementation (Hugging Face `tokenizers`: Rust BPE + Oniguruma regex) from the
repository's own data/gpt2/encoder.json and vocab.bpe. tests/test_tokenizer.c checks that restpg
encodes every line to exactly these ids. Nothing is downloaded from a model hub.

Usage (a throwaway install; the package is not a restpg dependency):
    python3 -m pip install --target /tmp/tokref tokenizers
    PYTHONPATH=/tmp/tokref python3 tests/reference/make_gpt2_refs.py

Each line: {"name": ..., "text": ..., "utf8_hex": ..., "ids": [...]}; the C test reads utf8_hex
(text is for people), so strings with NUL or control characters survive any JSON reader.
"""
import json
import os
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GPT2 = os.path.join(ROOT, "data", "gpt2")
OUT = os.path.join(ROOT, "tests", "reference", "gpt2_encodings.jsonl")

PARAGRAPH = (
    "The quick brown fox jumps over the lazy dog. It's 3:45pm on 2024-03-17, and the "
    "temperature is -12.5°C (that's 9.5°F). She said: \"We'll see; I've been there, they'd "
    "know.\"\n\nSection 2.1 -- Results\n\tAccuracy: 97.3%  (n=1,024)\n    indented   line   \n"
)

CASES = [
    ("empty", ""),
    ("word", "hello"),
    ("two_words", "Hello world"),
    ("leading_space", " leading space"),
    ("trailing_space", "trailing space "),
    ("space_runs", "a  b   c    d     e"),
    ("only_spaces", "      "),
    ("space_before_newline", "end of line   \nnext"),
    ("newlines", "line1\nline2\n\nline4\n\n\n"),
    ("crlf", "windows\r\nline\r\n"),
    ("tabs", "col1\tcol2\t\tcol3\t"),
    ("mixed_ws", " \t \n \r\n  x"),
    ("digits", "0 1 12 123 1234 12345 3.14159 1,000,000 007 2024-01-01"),
    ("long_number", "31415926535897932384626433832795028841971693993751"),
    ("contractions", "I'm you're we've they'll she'd it's isn't can't"),
    ("contractions_upper", "I'M YOU'RE WE'VE THEY'LL SHE'D IT'S"),
    ("apostrophes", "'s 't 're 've 'm 'll 'd ''quoted'' rock'n'roll o'clock"),
    ("curly_quotes", "It\u2019s \u201cquoted\u201d \u2018single\u2019"),
    ("punctuation", "Wait... what?! (yes) [no] {maybe} <tag/> a--b a---b #$%^&*~`|\\"),
    ("code", "def f(x):\n    return x ** 2  # square\nif (a != b && c >= 0) { y += 1; }"),
    ("url_email", "https://example.com/path?q=1&r=two#frag user.name+tag@mail.example.org"),
    ("accents", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber Stra\u00dfe fa\u00e7ade se\u00f1or"),
    ("combining", "cafe\u0301 n\u0303 a\u0308\u0301"),
    ("greek_cyrillic", "\u0391\u03b8\u03ae\u03bd\u03b1 \u041c\u043e\u0441\u043a\u0432\u0430 \u043f\u0440\u0438\u0432\u0435\u0442"),
    ("cjk", "\u4e2d\u6587\u6587\u672c \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4"),
    ("cjk_punct", "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u3002\u300c\u5f15\u7528\u300d"),
    ("arabic_hebrew", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05dc\u05d5\u05dd"),
    ("devanagari_thai", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35"),
    ("emoji", "\U0001F600 \U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467 \u2764\ufe0f \U0001F1EB\U0001F1F7"),
    ("emoji_in_words", "I love\U0001F355pizza\U0001F355 and \U0001F680rockets"),
    ("mixed_scripts", "abc\u4e2d\u6587123\u0645\u0631\u062d\u0628\u0627\U0001F600xyz \u00e9\u00e8 42\u00b2"),
    ("unicode_digits", "\u0661\u0662\u0663 \u0967\u0968\u0969 \u2160\u2161 \u00bd \u2460"),
    ("unicode_spaces", "a\u00a0b\u2003c\u3000d\u2028e\u2029f\u0085g"),
    ("nbsp_runs", "x\u00a0\u00a0\u00a0y  \u00a0z"),
    ("control_chars", "a\x01b\x1bc\x7fd"),
    ("info_separators", "a\x1cb\x1dc\x1ed\x1fe"),
    ("nul", "a\x00b\x00\x00c"),
    ("zero_width", "a\u200bb\u200cc\u200dd\ufeffe"),
    ("mongolian_vs", "a\u180eb \u180e c"),
    ("endoftext_literal", "text<|endoftext|>more <|reasoning|> <|answer|>"),
    ("repeated_char", "a" * 500),
    ("repeated_pair", "ab" * 300),
    ("repeated_spaces", " " * 300 + "x"),
    ("repeated_newlines", "\n" * 200),
    ("repeated_dots", "." * 257),
    ("long_word", "Pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism"),
    ("paragraph", PARAGRAPH),
]


def random_cases():
    """Seeded random strings over a pool of assigned characters from many classes, so the
    pre-tokenizer's letter/number/space/other boundaries meet in unusual orders."""
    pool = (list("abcXYZ019 '\n\t.,!?-_") + ["'s", "'ll", "  ", "\u00e9", "\u00df", "\u4e2d", "\u6587",
            "\u0645", "\u05d0", "\U0001F600", "\u00a0", "\u3000", "\u0661", "\u00bd", "\u2019", "\u200d",
            "\u0301", "\r\n", "\u2028", "\x0b", "\x0c"])
    rng = random.Random(20240317)
    out = []
    for i in range(40):
        n = rng.randint(1, 60)
        out.append((f"random_{i:02d}", "".join(rng.choice(pool) for _ in range(n))))
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(5):
        out.append((f"random_long_word_{i}", "".join(rng.choice(letters) for _ in range(rng.randint(60, 400)))))
    return out


def main():
    model = models.BPE.from_file(os.path.join(GPT2, "encoder.json"), os.path.join(GPT2, "vocab.bpe"))
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    with open(OUT, "w", encoding="utf-8") as f:
        for name, text in CASES + random_cases():
            ids = tok.encode(text).ids
            assert tok.decode(ids) == text, name
            rec = {"name": name, "text": text, "utf8_hex": text.encode("utf-8").hex(), "ids": ids}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {len(CASES) + 45} cases to {OUT}")


if __name__ == "__main__":
    main()

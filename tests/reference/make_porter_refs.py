#!/usr/bin/python3
"""Writes tests/reference/porter_expected.tsv: `word<TAB>stem` lines from NLTK's PorterStemmer()
(default NLTK_EXTENSIONS mode), the reference reward/porter.c is tested against.

Words: every distinct whitespace token of metric_pairs.jsonl as written (case, punctuation,
Unicode), every rouge_score-style token of it ([a-z0-9]+ after lowercasing), every single-word
lemma of Debian's WordNet index files with its inflections from the *.exc files, and a list of
hand-picked words for NLTK's special cases. Words containing a tab or newline are skipped.

Usage: /usr/bin/python3 tests/reference/make_porter_refs.py   (Debian's python3-nltk)
"""
import glob
import json
import os
import re

from nltk.stem.porter import PorterStemmer

HERE = os.path.dirname(os.path.abspath(__file__))

SPECIAL = """sky skies Skies SKY dying Dying lying tying news News innings inning outings outing
cannings canning howe proceed exceed succeed proceeded succeeding ies ied tied lies dies cries
died spied flies spies ties pies y yy yyy yyyy yyyyyyy ayyy ayyyy boyyyy syzygy toy enjoy happy
happily generalization generalizations hopping hoped hoping tanned falling hissing fizzed failing
filing conflated troubled sized agreed feed bleed plastered bled motoring sing relational
conditional rational valenci hesitanci digitizer conformabli radicalli differentli vileli
analogousli vietnamization predication operator feudalism decisiveness hopefulness callousness
formaliti sensitiviti sensibiliti triplicate formative formalize electriciti electrical hopeful
goodness revival allowance inference airliner gyroscopic adjustable defensible irritant
replacement adjustment dependent adoption homologou communism activate angulariti homologous
effective bowdlerize probate rate cease controll roll fulli logi analogi archaeologi
anthropologically finally totally additionally internationally caresses ponies caress cats
a at as is us i ab abs ss sss ses sses oed ed ing ings eed eeds eing xing wing ying being
İnning İSTANBUL Istanbul ΣΑΣ ΟΔΟΣ Σ ΣΑ café Café naïve Élodie straße STRASSE ﬁnance Kelvin
ÉCOLE crèmes 日本語 über Über ÄRGER niños NIÑOS""".split()


def words():
    seen = []
    add = seen.append
    for w in SPECIAL:
        add(w)
    with open(os.path.join(HERE, "metric_pairs.jsonl"), encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            for side in (p["pred"], p["ref"]):
                for w in side.split():
                    add(w)
                for w in re.sub(r"[^a-z0-9]+", " ", side.lower()).split():
                    add(w)
    for path in sorted(glob.glob("/usr/share/wordnet/index.*")) + \
            sorted(glob.glob("/usr/share/wordnet/*.exc")):
        if path.endswith(".sense"):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                for w in line.split()[:2 if path.endswith(".exc") else 1]:
                    if "_" not in w:
                        add(w)
    out, dup = [], set()
    for w in seen:
        if w and w not in dup and "\t" not in w and "\n" not in w:
            dup.add(w)
            out.append(w)
    return out


def main():
    st = PorterStemmer()
    ws = words()
    with open(os.path.join(HERE, "porter_expected.tsv"), "w", encoding="utf-8") as f:
        for w in ws:
            f.write("%s\t%s\n" % (w, st.stem(w)))
    print("wrote %d words" % len(ws))


if __name__ == "__main__":
    main()

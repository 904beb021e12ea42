#!/usr/bin/python3
"""Writes tests/reference/rouge_expected.jsonl: Google's rouge_score (the package behind
Hugging Face `evaluate`'s "rouge", which LongLaMP reports) on every pair of metric_pairs.jsonl,
without and with stemming; reward/rouge.c is tested against it.

Each line: {"id", "nostem": {"rouge1": [P, R, F], "rouge2": [...], "rougeL": [...]}, "stem": {...}}
and, for the hand-written edge cases (ids "edge_*"), the tokens rouge_score cut:
"tokens": {"pred", "ref", "pred_stem", "ref_stem"} (space-joined).
Scores are written with repr(), i.e. exactly.

Setup (throwaway directory; stemming uses Debian's python3-nltk PorterStemmer):
  /usr/bin/python3 -m pip install --no-deps --target /tmp/rougepkgs rouge-score absl-py six
  PYTHONPATH=/tmp/rougepkgs /usr/bin/python3 tests/reference/make_rouge_refs.py
"""
import json
import os

from rouge_score import rouge_scorer, tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = ["rouge1", "rouge2", "rougeL"]


def main():
    scorers = {name: rouge_scorer.RougeScorer(TYPES, use_stemmer=stem)
               for name, stem in (("nostem", False), ("stem", True))}
    toks = {name: tokenizers.DefaultTokenizer(use_stemmer=stem)
            for name, stem in (("", False), ("_stem", True))}
    n = 0
    with open(os.path.join(HERE, "metric_pairs.jsonl"), encoding="utf-8") as f, \
            open(os.path.join(HERE, "rouge_expected.jsonl"), "w", encoding="utf-8") as out:
        for line in f:
            p = json.loads(line)
            rec = {"id": p["id"]}
            for name, sc in scorers.items():
                s = sc.score(p["ref"], p["pred"])  # rouge_score's order: (target, prediction)
                rec[name] = {t: [s[t].precision, s[t].recall, s[t].fmeasure] for t in TYPES}
            if p["id"].startswith("edge_"):
                rec["tokens"] = {side + suffix: " ".join(tk.tokenize(p[side]))
                                 for side in ("pred", "ref") for suffix, tk in toks.items()}
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    print("wrote %d records" % n)


if __name__ == "__main__":
    main()

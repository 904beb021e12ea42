"""Reference side of tests/test_tokenizer_export.c: what PyPI `tokenizers` and transformers'
AutoTokenizer make of a directory that `tokenizer_save_hf` (restpg tokenizer export --hf) wrote.

    python hf_export_ref.py DIR OUT_CASES OUT_INFO

OUT_CASES gets one text per line, "TEXT_HEX<TAB>IDS<TAB>DECODED_HEX" (ids space separated, "-" for
none), the format of tests/hf_tokenizers_ref.py, for that script's texts (71 hand-written ones in
many scripts, 120 random mixed-script ones, 3 whole documents). Encoding sets
encode_special_tokens = True and add_special_tokens=False (restpg never makes special tokens from
text); decoding keeps special tokens.

AutoTokenizer must load the directory as a fast tokenizer built from tokenizer.json and encode
every text to the same ids (split_special_tokens, the same convention). OUT_INFO gets
"vocab N", "eos ID", "bos ID" (-1: none; the id that add_special_tokens=True puts first),
"special ID ID ..." (the ids of special added tokens) for the C side to hold against restpg. """
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_tokenizers_ref import CASES, SENTENCES, random_texts  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def texts():
    out = CASES + random_texts(random.Random(11), 120)
    with open("/usr/share/common-licenses/GPL-3", encoding="utf-8") as f:
        out.append(f.read()[:30000])
    out.append("".join(random_texts(random.Random(12), 80)))
    out.append(" ".join(SENTENCES) * 5)
    return out


def main():
    d, cases_path, info_path = sys.argv[1:4]
    t = Tokenizer.from_file(f"{d}/tokenizer.json")
    t.encode_special_tokens = True
    all_texts = texts()
    ids = []
    with open(cases_path, "w") as f:
        for s in all_texts:
            got = t.encode(s, add_special_tokens=False).ids
            ids.append(got)
            back = t.decode(got, skip_special_tokens=False)
            f.write(f"{s.encode().hex() or '-'}\t{' '.join(map(str, got)) or '-'}\t{back.encode().hex() or '-'}\n")

    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    auto = AutoTokenizer.from_pretrained(d, split_special_tokens=True)
    if not isinstance(auto, PreTrainedTokenizerFast):
        sys.exit(f"{d}: AutoTokenizer gave {type(auto).__name__}, not a fast tokenizer")
    bad = [k for k, s in enumerate(all_texts) if auto.encode(s, add_special_tokens=False) != ids[k]]
    if bad:
        k = bad[0]
        sys.exit(f"{d}: AutoTokenizer encodes {len(bad)} texts differently from tokenizers, e.g. text {k}: "
                 f"{auto.encode(all_texts[k], add_special_tokens=False)[:20]} vs {ids[k][:20]}")
    with_bos = auto.encode("hello", add_special_tokens=True)
    plain = auto.encode("hello", add_special_tokens=False)
    bos = with_bos[0] if len(with_bos) == len(plain) + 1 and with_bos[1:] == plain else -1
    if bos != (auto.bos_token_id if auto.bos_token_id is not None and bos >= 0 else -1):
        sys.exit(f"{d}: AutoTokenizer puts {bos} first, its bos_token_id is {auto.bos_token_id}")
    special = sorted(i for i, a in t.get_added_tokens_decoder().items() if a.special)
    auto_special = sorted(i for i, a in auto.added_tokens_decoder.items() if a.special)
    if special != auto_special:
        sys.exit(f"{d}: AutoTokenizer's special tokens differ from tokenizer.json's")
    with open(info_path, "w") as f:
        f.write(f"vocab {len(auto)}\neos {auto.eos_token_id}\nbos {bos}\n")
        f.write("special " + " ".join(map(str, special)) + "\n")
    print(f"{d}: {len(all_texts)} texts; AutoTokenizer ({type(auto).__name__}) agrees")


if __name__ == "__main__":
    main()

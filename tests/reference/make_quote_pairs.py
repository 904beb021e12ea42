#!/usr/bin/python3
"""Writes tests/reference/meteor_quote_pairs.jsonl: hand-written pairs {id, pred, ref} where the
NLTK releases tokenize differently (tests/meteor_nltk.sh compares restpg with each release on them
and on metric_pairs.jsonl). Each text is paired with its neighbour, so every text is both a
prediction and a reference.

Themes: opening single quotes ('quoted', 'Tis, quotes at the start of a sentence or after a
bracket), contractions and clitics before tabs and line breaks, curly quotes and guillemets
around sentence ends, figure/en/em dashes and horizontal bars, words WordNet's morphy reaches only
after two suffix rules, and characters Python's re and the regex module classify differently
(combining marks, superscript digits, the information separators U+001C..U+001F), also where
NLTK 3.10 still uses re (MacIntyre's contractions) or Python's str.strip() (Punkt's blank lines).

Usage: /usr/bin/python3 tests/reference/make_quote_pairs.py
"""
import json
import os

TEXTS = [
    "'Hello,' she said. 'Goodbye.'",
    "He said 'hello' and 'goodbye' to the 'team'.",
    "'Tis the season. 'Twas the night before. 'em all, 'cause I said so.",
    "'s not right. 're you there? 'll do. 'd better. 'm here. 've gone. 'n' roll.",
    "The word 'a' and 'I' and 'x' are short; 'ab' and 'Z9' too.",
    "('quoted' text) ['also'] {'this'} <'that'> -'dash'.",
    "It's Bob's car; they're here, we'll go, I'd say, you've seen, don't, can't, won't.",
    "Don't\tstop, it's\tfine, they'll\nbe there, she's\nright.",
    "\u2018Single curly\u2019 and \u201cdouble curly.\u201d Next sentence starts here.",
    "He left.\u201d Then she came. \u00abOui.\u00bb Et puis. \u2018Yes.\u2019 And no.",
    "Wait.\u201d He said. \u201cStop.\u201d she said. \u00abNon\u00bb. \u2019Tis odd.",
    "Pages 10\u201320, a dash\u2014here, figure\u2012dash, bar\u2015there, minus\u2212sign.",
    "The geese were flying; the oxen were grazing; the classifications varied.",
    "Anticipated stringencies, recalculations and oversimplifications abounded.",
    "Caf\u00e9 vs cafe\u0301, na\u0308ive, x\u00b2 and x\u00b3, \u00bd cup, \u2460 circled, e\u0301t\u00e9.",
    "Field\x1cone\x1dtwo\x1ethree\x1ffour. Next\x85line\u2028sep.",
    "O'Neill's 'special' rock'n'roll at 5 o'clock, ma'am. 'Ello 'ello.",
    "\"Quoted start.\" 'Single start.' `Backtick start.' (Bracket start.)",
    "She said: 'It's mine.' He said: 'No, 'tis mine.'",
    "'90s music, '60s style, 'n' such; rock 'n' roll.",
    "We're 'gonna' win, 'wanna' bet? 'Cannot' lose.",
    "'\u00c9cole' and '\u00fcber' and '\u0130stanbul' and '\u03a3\u03bf\u03c6\u03af\u03b1'.",
    "The 'S' and 'T' and 'M' and 'D' keys; the '\u017f' long s; the '\u212a' kelvin.",
    "end with quote '",
    "' starts with a lone quote",
    "Multiple   spaces 'here'  and\u00a0there, tab\t'quoted'.",
    "We gonna\u00b2 win, wanna\U0001e4f0 go, gimme\u0301 that; cannot\u00bd stop.",
    "See e.g.\n\x1f cannot stop. Then Dr.\n\x1c Who left.",
]

def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "meteor_quote_pairs.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for i, t in enumerate(TEXTS):
            ref = TEXTS[(i + 1) % len(TEXTS)]
            f.write(json.dumps({"id": "quote_%02d" % i, "pred": t, "ref": ref}, ensure_ascii=False) + "\n")
            f.write(json.dumps({"id": "quote_%02d_self" % i, "pred": t, "ref": t.lower()}, ensure_ascii=False) + "\n")
    print("wrote %d pairs" % (2 * len(TEXTS)))

if __name__ == "__main__":
    main()

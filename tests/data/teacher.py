#!/usr/bin/env python3
"""A small teacher program for tests of `restpg reason --teacher cmd:...` (docs/reward.md).

Answers each request {"id", "input", "output", "profile", "prompt"} with {"id", "reasoning"}, the
reasoning being "- <n> profile items; <w> words expected." The first argument selects a behaviour,
so one script exercises every failure mode: ok, crash-once MARKER (exit 4 the first time only),
crash (exit 3 at once), hang (never answers), empty ID (blank reasoning for that id), leak ID (the
expected output itself for that id), wrongid, missing (no reasoning field)."""
import json
import os
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
arg = sys.argv[2] if len(sys.argv) > 2 else None

for line in sys.stdin:
    req = json.loads(line)
    out = {"id": req["id"], "reasoning": f"- {len(req['profile'])} profile items; {len(req['output'].split())} words expected.\n"}
    if mode == "crash":
        sys.exit(3)
    if mode == "crash-once" and not os.path.exists(arg):
        open(arg, "w").close()
        os._exit(4)
    if mode == "hang":
        time.sleep(3600)
    if mode == "empty" and req["id"] == arg:
        out["reasoning"] = " \n\t "
    elif mode == "leak" and req["id"] == arg:
        out["reasoning"] = "- " + req["output"]
    elif mode == "wrongid":
        out["id"] = "nope"
    elif mode == "missing":
        del out["reasoning"]
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()

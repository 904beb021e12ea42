#!/usr/bin/env python3
"""A reasoning teacher for `restpg reason --teacher cmd:...` that asks an OpenAI-compatible server.

It speaks restpg's teacher protocol (docs/reward.md, "The LLM teacher"): each stdin line is a
request {"id", "input", "output", "profile", "prompt"}; for each it POSTs the prompt as one user
message to {base_url}/v1/chat/completions (vLLM's and llama.cpp's servers offer it, as do hosted
APIs) and writes {"id", "reasoning"} to stdout, the reasoning being the reply's message content.
Up to --concurrency requests are in flight at once, so answers may come back out of order (the
protocol allows it). Any failure (HTTP error, unreachable server, a reply without content) is
printed to stderr and ends the program with status 1: restpg then restarts it and resends the
batch (reason.teacher_retries), and names the failure if it persists.

Settings come from the options, else from the environment, else the defaults:
  --base-url     TEACHER_BASE_URL     http://127.0.0.1:8000 (without /v1)
  --model        TEACHER_MODEL        default
  --temperature  TEACHER_TEMPERATURE  0.7
  --max-tokens   TEACHER_MAX_TOKENS   512
  --timeout      TEACHER_HTTP_TIMEOUT 120 seconds per HTTP request
  --concurrency  TEACHER_CONCURRENCY  4
and OPENAI_API_KEY, when set, is sent as a bearer token. Standard library only.

Example:
  restpg reason --data data.h5 \\
      --teacher "cmd:python3 scripts/teacher_openai.py --base-url http://127.0.0.1:8000 --model qwen"
"""
import argparse
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def settings(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base-url", default=env("TEACHER_BASE_URL", "http://127.0.0.1:8000"))
    p.add_argument("--model", default=env("TEACHER_MODEL", "default"))
    p.add_argument("--temperature", type=float, default=float(env("TEACHER_TEMPERATURE", "0.7")))
    p.add_argument("--max-tokens", type=int, default=int(env("TEACHER_MAX_TOKENS", "512")))
    p.add_argument("--timeout", type=float, default=float(env("TEACHER_HTTP_TIMEOUT", "120")))
    p.add_argument("--concurrency", type=int, default=int(env("TEACHER_CONCURRENCY", "4")))
    a = p.parse_args(argv)
    if a.concurrency < 1:
        p.error("--concurrency must be at least 1")
    return a


def complete(a, prompt):
    """The server's reply to one prompt: the first choice's message content."""
    body = json.dumps({"model": a.model, "messages": [{"role": "user", "content": prompt}],
                       "temperature": a.temperature, "max_tokens": a.max_tokens}).encode()
    headers = {"Content-Type": "application/json"}
    if os.environ.get("OPENAI_API_KEY"):
        headers["Authorization"] = "Bearer " + os.environ["OPENAI_API_KEY"]
    url = a.base_url.rstrip("/") + "/v1/chat/completions"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=a.timeout) as r:
        reply = json.load(r)
    content = reply["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise ValueError("the reply's message content is not a string")
    return content


def main():
    a = settings(sys.argv[1:])
    out_lock = threading.Lock()

    def answer(req):
        try:
            text = complete(a, req["prompt"])
        except (OSError, urllib.error.URLError, ValueError, KeyError, IndexError, TypeError) as err:
            print(f"teacher_openai: request '{req['id']}' to {a.base_url}: {err}", file=sys.stderr, flush=True)
            os._exit(1)  # from a worker thread: end the process, restpg restarts it
        with out_lock:
            sys.stdout.write(json.dumps({"id": req["id"], "reasoning": text}) + "\n")
            sys.stdout.flush()

    with ThreadPoolExecutor(max_workers=a.concurrency) as pool:
        for line in sys.stdin:
            if line.strip():
                pool.submit(answer, json.loads(line))


if __name__ == "__main__":
    main()

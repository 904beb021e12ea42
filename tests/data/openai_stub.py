#!/usr/bin/env python3
"""A stand-in for an OpenAI-compatible server (POST /v1/chat/completions) for the teacher tests.

Usage: openai_stub.py PORT_FILE LOG_FILE [fail-first]
Listens on 127.0.0.1 at a free port, which it writes to PORT_FILE once it accepts connections. Each
request body is appended to LOG_FILE as one JSON line. The reply's content is reasoning_for(the
last message's content): one bullet per profile item and one about the subject, derived from the
prompt's "## profile:" and "## subject:" sections, so a test can compute what restpg must store.
With fail-first, the first request gets HTTP 500 (the teacher script must exit; restpg restarts it).
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def section(prompt, name):
    """The text under "## NAME:" up to the next blank line followed by a heading."""
    body = prompt.split(f"## {name}:\n", 1)[1]
    return body.split("\n\n## ", 1)[0]


def reasoning_for(prompt):
    items = section(prompt, "profile").split(" | ")
    bullets = [f"- Past document {n} runs {len(it.split())} words, opening with a {len(it.split()[0]) if it.split() else 0}-letter word."
               for n, it in enumerate(items, 1)]
    bullets.append(f"- The subject is {len(section(prompt, 'subject').split())} words long.")
    return "\n".join(bullets)


def main():
    port_file, log_file = sys.argv[1], sys.argv[2]
    fail_first = len(sys.argv) > 3 and sys.argv[3] == "fail-first"
    lock = threading.Lock()
    state = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state["n"] += 1
                first = state["n"] == 1
                with open(log_file, "a") as f:
                    f.write(json.dumps({"path": self.path, "body": body}) + "\n")
            if self.path != "/v1/chat/completions" or (fail_first and first):
                self.send_response(404 if self.path != "/v1/chat/completions" else 500)
                self.end_headers()
                return
            content = reasoning_for(body["messages"][-1]["content"])
            out = json.dumps({"id": "chatcmpl-stub", "object": "chat.completion", "model": body["model"],
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": content}}]}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the teacher script exited meanwhile (after another request's HTTP 500)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()

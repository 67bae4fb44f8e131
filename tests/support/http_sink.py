#!/usr/bin/env python3
"""A real HTTP server on loopback for regwatch's channel tests (Python's http.server).

Every POST is appended to LOG as one JSON line: path, headers (lower-cased names), the
body as text and as JSON, what the server answered, and, with --secret, whether the
Standard Webhooks signature verifies (checked by the reference library, standardwebhooks).

What it answers is scripted by SCRIPT, a JSON object read on every request:
{"/path": [answer, ...]}. The first answer of the request's path is used and removed
(unless it says "repeat": true); with none left it answers 200 "ok". An answer is
{"status": 429, "retry_after": "1"}, {"status": 500}, or {"hang": SECONDS} (answers
nothing for that long). The test rewrites SCRIPT between runs.

It prints its port on the first line of stdout, then serves until it is killed or its
standard input closes.

    python3 tests/support/http_sink.py --log req.jsonl --script script.json [--secret whsec_...]
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()


def next_answer(script_path, path):
    """The scripted answer for `path`, consumed unless it repeats."""
    with LOCK:
        try:
            with open(script_path, encoding="utf-8") as f:
                script = json.load(f)
        except FileNotFoundError:
            return {}
        answers = script.get(path) or []
        if not answers:
            return {}
        answer = answers[0]
        if not answer.get("repeat"):
            script[path] = answers[1:]
            tmp = script_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(script, f)
            os.replace(tmp, script_path)
        return answer


def make_handler(log_path, script_path, secret):
    webhook = Webhook(secret) if secret else None

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            text = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            signature = None
            if webhook and "webhook-signature" in headers:
                try:
                    webhook.verify(raw, headers)
                    signature = "valid"
                except WebhookVerificationError as e:
                    signature = f"invalid: {e}"
            answer = next_answer(script_path, self.path)
            record = {
                "path": self.path,
                "headers": headers,
                "body": text,
                "json": parsed,
                "signature": signature,
                "answer": answer or {"status": 200},
                "at": time.time(),
            }
            with LOCK:
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            if "hang" in answer:
                time.sleep(float(answer["hang"]))
                return
            status = int(answer.get("status", 200))
            body = b"ok" if status < 300 else f"scripted {status}".encode()
            self.send_response(status)
            if "retry_after" in answer:
                self.send_header("Retry-After", str(answer["retry_after"]))
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--secret")
    args = ap.parse_args()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), make_handler(args.log, args.script, args.secret)
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A real SMTP server on loopback for regwatch's tests (aiosmtpd).

Every message it accepts is written to DIR as one JSON file (envelope sender, recipients,
and the raw message). It prints its port on the first line of stdout, then serves until
it is killed or its standard input closes.

    python3 tests/support/smtp_sink.py --dir /tmp/mail [--port 0] [--refuse ADDRESS ...]

--refuse makes it answer RCPT TO for that address with 550 (mailbox unavailable), as a
real server does for an unknown user, while it accepts the others.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, refused):
        self.folder = folder
        self.refused = {a.lower() for a in refused}
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.folder, f".msg-{n:05d}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, f"msg-{os.getpid()}-{n:05d}.json"))
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--refuse", action="append", default=[])
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    port = args.port or free_port()
    controller = Controller(Sink(args.dir, args.refuse), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        # Serve until stdin closes (the test dropped us) or we are killed.
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

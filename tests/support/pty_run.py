"""Runs a command with its standard output on a pseudo-terminal (so it sees a terminal)
and copies what it wrote to this process's standard output; exits with its status.

Usage: python3 pty_run.py COMMAND [ARGS...]
"""

import os
import pty
import subprocess
import sys


def main() -> int:
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        sys.argv[1:],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    out = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    status = child.wait()
    os.close(leader)
    sys.stdout.buffer.write(bytes(out))
    return status


if __name__ == "__main__":
    sys.exit(main())

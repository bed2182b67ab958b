#!/usr/bin/env python3
"""Interactor for guess, called as Kattis calls it: interactor input answer feedback_dir/.

Reads the secret from the input file, then answers the program's questions "? x" on its
stdin with "<" (the secret is smaller), ">" (larger) or "=" (found) on its stdout. After
"=" the program must end without writing more. At most 30 questions. Exit 42: accepted,
43: wrong answer, with the reason in feedback_dir/judgemessage.txt.
"""
import os
import sys

QUESTIONS = 30


def judge(accepted: bool, message: str) -> None:
    with open(os.path.join(sys.argv[3], "judgemessage.txt"), "w") as f:
        f.write(message + "\n")
    sys.exit(42 if accepted else 43)


def main() -> None:
    with open(sys.argv[1]) as f:
        secret = int(f.read().split()[0])
    for asked in range(1, QUESTIONS + 1):
        line = sys.stdin.readline()
        if not line:
            judge(False, f"the program ended after {asked - 1} questions without finding the number")
        parts = line.split()
        if len(parts) != 2 or parts[0] != "?" or not parts[1].lstrip("-").isdigit():
            judge(False, f"question {asked} is not '? x': {line.strip()[:50]!r}")
        x = int(parts[1])
        reply = "<" if secret < x else ">" if secret > x else "="
        try:  # written straight to the pipe: nothing left in a buffer when the program has gone
            os.write(1, (reply + "\n").encode())
        except BrokenPipeError:
            judge(False, f"the program ended before reading the reply to question {asked}")
        if reply == "=":
            if sys.stdin.read().strip():
                judge(False, "the program wrote more after the number was found")
            judge(True, f"found in {asked} questions")
    judge(False, f"{QUESTIONS} questions and the number is not found")


main()

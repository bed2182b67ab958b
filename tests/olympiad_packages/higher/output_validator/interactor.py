"""Interactor, called as Kattis calls it: interactor input answer feedback_dir/. The number is
the input's; the program's questions come on stdin, the answers go to stdout. Exit 42: accepted,
43: wrong answer (the reason in feedback_dir/judgemessage.txt)."""
import os
import sys

QUESTIONS = 7


def judge(accepted, message):
    with open(os.path.join(sys.argv[3], "judgemessage.txt"), "w") as f:
        f.write(message + "\n")
    sys.exit(42 if accepted else 43)


with open(sys.argv[1]) as f:
    secret = int(f.read())
for asked in range(1, QUESTIONS + 1):
    line = sys.stdin.readline()
    if not line.strip().isdigit():
        judge(False, f"question {asked} is not a number: {line.strip()[:30]!r}")
    guess = int(line)
    reply = "higher" if secret > guess else "lower" if secret < guess else "correct"
    try:
        os.write(1, (reply + "\n").encode())
    except BrokenPipeError:
        judge(False, f"the program ended before reading the answer to question {asked}")
    if reply == "correct":
        if sys.stdin.read().strip():
            judge(False, "the program wrote more after the number was found")
        judge(True, f"found in {asked} questions")
judge(False, f"not found in {QUESTIONS} questions")

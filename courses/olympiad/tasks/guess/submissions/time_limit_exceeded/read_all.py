"""Reads all its input before asking anything, as for an ordinary problem: the input ends
only when the interactor stops, and the interactor waits for a question. Nothing moves
until the time is up."""
import sys

replies = sys.stdin.read().split()
low, high = 1, 10**9
for reply in replies:
    middle = (low + high) // 2
    if reply == "<":
        high = middle - 1
    elif reply == ">":
        low = middle + 1
print("?", (low + high) // 2, flush=True)

"""Asks once, in the middle, and stops: it never finds most numbers."""
print("?", 500000000, flush=True)
input()

"""Olympiad tasks: Kattis problem packages, prepared, verified and judged in the sandbox."""

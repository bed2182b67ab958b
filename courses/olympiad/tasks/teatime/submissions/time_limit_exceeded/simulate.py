#!/usr/bin/env python3
# Too slow: fills the samovar one time after another, up to 10^18 times.
n, k, c = map(int, input().split())
need = n * k
poured = refills = 0
while poured < need:
    poured += c
    refills += 1
print(refills)

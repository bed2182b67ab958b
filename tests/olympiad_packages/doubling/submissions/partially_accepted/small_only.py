# Solves subtask 1 only: gives up when n > 10.
n = int(input())
for x in input().split()[: 10 if n <= 10 else 0]:
    print(2 * int(x))

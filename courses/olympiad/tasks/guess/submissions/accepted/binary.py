"""Binary search on 1..10^9: at most 30 questions. flush=True: the interactor waits for each line."""
low, high = 1, 10**9
while True:
    middle = (low + high) // 2
    print("?", middle, flush=True)
    reply = input().strip()
    if reply == "=":
        break
    if reply == "<":
        high = middle - 1
    else:
        low = middle + 1

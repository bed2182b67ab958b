n = int(input())
raise SystemExit(f"cannot double {n} numbers")

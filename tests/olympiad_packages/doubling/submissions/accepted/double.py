n = int(input())
for x in input().split():
    print(2 * int(x))

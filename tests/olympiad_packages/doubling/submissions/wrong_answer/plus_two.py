n = int(input())
for x in input().split():
    print(int(x) + 2)

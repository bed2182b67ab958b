import math
r = float(input())
print("%.12e" % (math.pi * r * r))

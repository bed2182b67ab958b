# Runs out of memory: problemtools files that under run_time_error in the legacy format.
hoard = bytearray(1 << 31)
print(len(hoard))

# asks 1, 2, 3 ...: more than 7 questions for a number above 7
for guess in range(1, 101):
    print(guess, flush=True)
    if input() == "correct":
        break

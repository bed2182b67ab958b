# thinks forever before its first question
while True:
    pass

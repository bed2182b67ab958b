# ends with an error before asking anything
raise SystemExit("no idea")

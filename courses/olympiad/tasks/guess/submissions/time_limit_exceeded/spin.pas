{ Counts to the number one step at a time before asking: far too slow. }
program spin;
var
  x, steps: int64;
  reply: string;
begin
  x := 500000000;
  steps := 0;
  while steps < 20000000000 do steps := steps + 1;
  writeln('? ', x + steps - steps);
  Flush(Output);
  readln(reply);
end.

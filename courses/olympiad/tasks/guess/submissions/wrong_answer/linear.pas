{ Asks 1, 2, 3 ... in turn: right, but far more than 30 questions for a large number. }
program linear;
var
  x: int64;
  reply: string;
begin
  x := 1;
  repeat
    writeln('? ', x);
    Flush(Output);
    readln(reply);
    x := x + 1;
  until reply = '=';
end.

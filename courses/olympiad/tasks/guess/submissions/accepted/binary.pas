{ Binary search on 1..10^9: at most 30 questions; Flush(Output) sends each question at once. }
program binary;
var
  low, high, middle: int64;
  reply: string;
begin
  low := 1;
  high := 1000000000;
  while true do
  begin
    middle := (low + high) div 2;
    writeln('? ', middle);
    Flush(Output);
    readln(reply);
    if reply = '=' then break;
    if reply = '<' then high := middle - 1 else low := middle + 1;
  end;
end.

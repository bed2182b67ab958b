// Binary search on 1..10^9: at most 30 questions; println on System.out flushes each line.
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class Binary {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        long low = 1, high = 1000000000L;
        while (true) {
            long middle = (low + high) / 2;
            System.out.println("? " + middle);
            System.out.flush();
            String reply = in.readLine();
            if (reply == null || reply.trim().equals("=")) break;
            if (reply.trim().equals("<")) high = middle - 1; else low = middle + 1;
        }
    }
}

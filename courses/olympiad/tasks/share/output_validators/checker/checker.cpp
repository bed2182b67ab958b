// Output validator for share, in C++: called as `checker input answer feedback_dir < output`.
// Any row of coins l..r (1 <= l <= r <= n) whose sum is a multiple of n is accepted; one always
// exists (of the n prefix sums modulo n, one is 0 or two are equal), so the jury's answer only
// shows that. Exit 42: accepted, 43: wrong answer (the reason goes to judgemessage.txt).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

static std::string feedback_dir;

static void verdict(bool accepted, const std::string &message = "") {
    if (!message.empty()) {
        std::ofstream out(feedback_dir + "/judgemessage.txt");
        out << message << "\n";
    }
    std::exit(accepted ? 42 : 43);
}

int main(int argc, char **argv) {
    if (argc < 4) return 1;
    feedback_dir = argv[3];
    std::ifstream in(argv[1]);
    long long n;
    in >> n;
    std::vector<long long> coins(n);
    for (auto &c : coins) in >> c;

    std::string a, b, extra;
    if (!(std::cin >> a >> b)) verdict(false, "expected two numbers l and r");
    if (std::cin >> extra) verdict(false, "more than two numbers printed");
    char *end_a, *end_b;
    long long l = std::strtoll(a.c_str(), &end_a, 10), r = std::strtoll(b.c_str(), &end_b, 10);
    if (*end_a || *end_b || a.size() > 7 || b.size() > 7) verdict(false, "l and r must be integers");
    if (!(1 <= l && l <= r && r <= n)) verdict(false, "need 1 <= l <= r <= n, got " + a + " " + b);
    long long rest = 0;
    for (long long i = l - 1; i < r; ++i) rest = (rest + coins[i]) % n;
    if (rest != 0) verdict(false, "the coins " + a + ".." + b + " leave " + std::to_string(rest) + " modulo n");
    verdict(true);
}

// Binary search on 1..10^9: at most 30 questions; endl flushes each question.
#include <iostream>
#include <string>
int main() {
    long long low = 1, high = 1000000000;
    while (true) {
        long long middle = (low + high) / 2;
        std::cout << "? " << middle << std::endl;
        std::string reply;
        if (!(std::cin >> reply) || reply == "=") break;
        if (reply == "<") high = middle - 1; else low = middle + 1;
    }
}

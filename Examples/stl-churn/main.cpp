// An STL-heavy workload for overhead measurements: strings, vectors, maps and hash maps
// built and torn down in a loop. Usage: stl-churn [rounds=40]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

__attribute__((section(".swift1_autolink_entries"), used)) static const char as_needed[] = "-Wl,--as-needed";

namespace churn {

__attribute__((noinline)) std::size_t indexWords(int round) {
    std::unordered_map<std::string, std::vector<int>> index;
    for (int i = 0; i < 20000; i++) {
        std::string word = "word-" + std::to_string((i * 7919 + round) % 5000);
        index[word].push_back(i);
    }
    return index.size();
}

__attribute__((noinline)) std::size_t sortRecords(int round) {
    std::map<std::string, std::string> records;
    for (int i = 0; i < 10000; i++) {
        records.emplace(std::to_string(i * 31 + round), std::string(48, static_cast<char>('a' + i % 26)));
    }
    std::size_t total = 0;
    for (auto &[key, value] : records)
        total += key.size() + value.size();
    return total;
}

} // namespace churn

int main(int argc, char **argv) {
    int rounds = argc > 1 ? std::atoi(argv[1]) : 40;
    std::size_t checksum = 0;
    for (int r = 0; r < rounds; r++)
        checksum += churn::indexWords(r) + churn::sortRecords(r);
    std::printf("stl-churn: %d rounds, checksum %zu\n", rounds, checksum);
    return 0;
}

// A C++ service whose catalog keeps every item it ever saw: inventory::Catalog::addItem leaks.
// The per-request scratch strings and vectors are freed (the no-leak control).
// Usage: leaky-cpp [seconds=20]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

__attribute__((section(".swift1_autolink_entries"), used)) static const char as_needed[] = "-Wl,--as-needed";

namespace inventory {

struct Item {
    int id;
    char description[200];
};

class Catalog {
  public:
    __attribute__((noinline)) void addItem(int id) {
        Item *item = new Item{id, {}};
        std::snprintf(item->description, sizeof item->description, "item %d", id);
        items_.push_back(item); // never deleted: the leak
    }
    std::size_t size() const { return items_.size(); }

  private:
    std::vector<Item *> items_;
};

__attribute__((noinline)) std::size_t renderPage(int id) {
    std::vector<std::string> lines;
    for (int i = 0; i < 8; i++)
        lines.push_back(std::string(64, static_cast<char>('a' + (id + i) % 26)));
    std::size_t n = 0;
    for (auto &line : lines)
        n += line.size();
    return n;
}

} // namespace inventory

int main(int argc, char **argv) {
    double seconds = argc > 1 ? std::atof(argv[1]) : 20;
    inventory::Catalog catalog;
    auto start = std::chrono::steady_clock::now();
    std::size_t bytes = 0;
    int id = 0;
    while (seconds == 0 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
        for (int i = 0; i < 10; i++, id++) {
            bytes += inventory::renderPage(id);
            if (id % 5 == 0) catalog.addItem(id);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::printf("leaky-cpp: %d requests, %zu items, %zu bytes\n", id, catalog.size(), bytes);
    return 0;
}

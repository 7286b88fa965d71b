/*
 * A bounded cache: entries are inserted at a steady rate until the cache holds
 * `capacity` of them, then the oldest is evicted for every insert. The heap grows
 * for capacity/rate seconds and then stays flat: not a leak.
 * Usage: bounded-cache [seconds=20] [capacity=1000] [inserts-per-second=200]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

struct entry {
    int key;
    char value[1020];
};

__attribute__((noinline)) static struct entry *make_entry(int key) {
    struct entry *e = malloc(sizeof *e);
    e->key = key;
    memset(e->value, key & 0xFF, sizeof e->value);
    return e;
}

__attribute__((noinline)) static char *scratch_buffer(void) { return malloc(4096); }

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 20);
    int capacity = argc > 2 ? atoi(argv[2]) : 1000;
    int rate = argc > 3 ? atoi(argv[3]) : 200;
    if (capacity < 1) capacity = 1;
    if (rate < 10) rate = 10;
    struct entry **ring = calloc((size_t)capacity, sizeof *ring);
    double start = example_now();
    int inserted = 0;
    while (seconds == 0 || example_now() - start < seconds) {
        for (int i = 0; i < rate / 10; i++) {
            int slot = inserted % capacity;
            free(ring[slot]); /* evicts the oldest once full */
            ring[slot] = make_entry(inserted++);
            char *scratch = scratch_buffer();
            scratch[0] = 1;
            free(scratch);
        }
        example_sleep_ms(100);
    }
    printf("bounded-cache: %d inserts, capacity %d\n", inserted, capacity);
    return 0;
}

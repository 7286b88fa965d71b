/*
 * A batch job: it fills a batch of 4 KiB records for `period` seconds, flushes (frees) it,
 * and starts over. The heap rises and drops in cycles whose peaks stay level: not a leak.
 * Usage: sawtooth [seconds=30] [period-seconds=3]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

#define MAX_RECORDS 4096

__attribute__((noinline)) static void *add_record(int i) {
    char *r = malloc(4096);
    memset(r, i & 0xFF, 64);
    return r;
}

__attribute__((noinline)) static void flush_batch(void **batch, int n) {
    for (int i = 0; i < n; i++)
        free(batch[i]);
}

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 30);
    double period = argc > 2 ? atof(argv[2]) : 3;
    static void *batch[MAX_RECORDS];
    int n = 0, flushes = 0;
    double start = example_now(), batch_start = start;
    while (seconds == 0 || example_now() - start < seconds) {
        for (int i = 0; i < 4 && n < MAX_RECORDS; i++)
            batch[n] = add_record(n), n++;
        if (example_now() - batch_start >= period) {
            flush_batch(batch, n);
            n = 0;
            flushes++;
            batch_start = example_now();
        }
        example_sleep_ms(10);
    }
    flush_batch(batch, n);
    printf("sawtooth: %d flushes\n", flushes);
    return 0;
}

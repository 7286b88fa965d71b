/*
 * Allocation-bound workload for overhead measurements: N malloc/free pairs at a
 * call depth of about ten, on T threads. Prints nothing but a checksum.
 * Usage: alloc-storm [pairs=5000000] [threads=1]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common.h"

static long pairs_per_thread;

__attribute__((noinline)) static unsigned long leaf(long i) {
    char *p = malloc((size_t)(16 + (i & 255)));
    p[0] = (char)i;
    unsigned long v = (unsigned char)p[0];
    free(p);
    return v;
}

#define LEVEL(name, next)                                                                                              \
    __attribute__((noinline)) static unsigned long name(long i) { return next(i) + 1; }
LEVEL(level8, leaf)
LEVEL(level7, level8)
LEVEL(level6, level7)
LEVEL(level5, level6)
LEVEL(level4, level5)
LEVEL(level3, level4)
LEVEL(level2, level3)
LEVEL(level1, level2)

static void *worker(void *arg) {
    unsigned long sum = 0;
    for (long i = 0; i < pairs_per_thread; i++)
        sum += level1(i);
    *(unsigned long *)arg = sum;
    return NULL;
}

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 5000000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pairs_per_thread = pairs / threads;
    pthread_t ids[64];
    unsigned long sums[64];
    for (int t = 0; t < threads; t++)
        pthread_create(&ids[t], NULL, worker, &sums[t]);
    unsigned long total = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        total += sums[t];
    }
    printf("alloc-storm: %ld pairs on %d threads, checksum %lu\n", pairs_per_thread * threads, threads, total);
    return 0;
}

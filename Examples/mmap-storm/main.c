/*
 * Mapping-bound workload for overhead measurements: N mmap/munmap pairs of a few writable pages
 * at a call depth of about ten, beside K long-lived one-page mappings, so the tracker's table is
 * not empty. Prints nothing but a checksum.
 * Usage: mmap-storm [pairs=200000] [pages=4] [kept=1000]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "../common.h"

static size_t bytes;

__attribute__((noinline)) static unsigned long leaf(long i) {
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    p[0] = (char)i;
    unsigned long v = (unsigned char)p[0];
    munmap(p, bytes);
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

__attribute__((noinline)) static void *keep(void) {
    return mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 200000;
    bytes = (size_t)(argc > 2 ? atol(argv[2]) : 4) * 4096;
    long kept = argc > 3 ? atol(argv[3]) : 1000;
    for (long i = 0; i < kept; i++)
        keep();
    unsigned long sum = 0;
    for (long i = 0; i < pairs; i++)
        sum += level1(i);
    printf("%lu\n", sum);
    return 0;
}

/*
 * Grows its RSS through anonymous mmap while its malloc heap stays flat: judged by the heap,
 * the verdict must be "growth", not "leak". The tracker records the mappings themselves as
 * mapped memory of map_region (the MAPPED section of each snapshot).
 * Usage: mmap-growth [seconds=30] [kib-per-second=512]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../common.h"

__attribute__((noinline)) static void *map_region(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) memset(p, 1, n); /* touch it so it counts in RSS */
    return p;
}

__attribute__((noinline)) static void churn(void) {
    char *p = malloc(1024);
    p[0] = 1;
    free(p);
}

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 30);
    long kib = argc > 2 ? atol(argv[2]) : 512;
    size_t chunk = (size_t)kib * 1024 / 10;
    double start = example_now();
    int regions = 0;
    while (seconds == 0 || example_now() - start < seconds) {
        if (map_region(chunk) != MAP_FAILED) regions++;
        for (int i = 0; i < 20; i++)
            churn();
        example_sleep_ms(100);
    }
    printf("mmap-growth: %d regions\n", regions);
    return 0;
}

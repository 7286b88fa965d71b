/*
 * A steady program: the same allocations every tick, all freed. The no-leak control.
 * Usage: steady [seconds=20]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

__attribute__((noinline)) static char *make_buffer(size_t n) {
    char *p = malloc(n);
    memset(p, 7, n);
    return p;
}

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 20);
    char *working_set = make_buffer(256 * 1024); /* allocated once, kept: flat, not growth */
    double start = example_now();
    long ticks = 0;
    while (seconds == 0 || example_now() - start < seconds) {
        char *batch[64];
        for (int i = 0; i < 64; i++)
            batch[i] = make_buffer(128 + (size_t)i * 16);
        for (int i = 0; i < 64; i++)
            free(batch[i]);
        ticks++;
        example_sleep_ms(10);
    }
    free(working_set);
    printf("steady: %ld ticks\n", ticks);
    return 0;
}

/*
 * Allocates, then execs itself with the next stage number, up to the last stage: one process,
 * several images, each with its own series.
 * Usage: fault-exec-chain [stages=3]   (stage N of M is started as: fault-exec-chain M N)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"

__attribute__((noinline)) static void *stage_work(int stage) {
    char *p = malloc(1000 * (size_t)stage);
    memset(p, stage, 1000 * (size_t)stage);
    return p;
}

int main(int argc, char **argv) {
    int stages = argc > 1 ? atoi(argv[1]) : 3;
    int stage = argc > 2 ? atoi(argv[2]) : 1;
    if (!stage_work(stage)) return 1;
    printf("fault-exec-chain: stage %d of %d\n", stage, stages);
    fflush(stdout);
    if (stage >= stages) return 0;
    char next[16], total[16];
    snprintf(next, sizeof next, "%d", stage + 1);
    snprintf(total, sizeof total, "%d", stages);
    execl("/proc/self/exe", argv[0], total, next, (char *)NULL);
    perror("exec");
    return 1;
}

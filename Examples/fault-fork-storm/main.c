/*
 * Forks N children one after another in waves; each child allocates, frees part of it and
 * leaves with exit() (even index) or _exit() (odd index). The parent allocates between forks.
 * Usage: fault-fork-storm [children=300]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common.h"

__attribute__((noinline)) static void *child_work(int index) {
    char *kept = malloc(512 + (size_t)index);
    for (int i = 0; i < 64; i++)
        free(malloc(32 + (size_t)i));
    memset(kept, 1, 512);
    return kept;
}

__attribute__((noinline)) static void *parent_work(int index) { return malloc(128 + (size_t)(index % 16)); }

int main(int argc, char **argv) {
    int children = argc > 1 ? atoi(argv[1]) : 300;
    int failed = 0, wave = 32;
    void **kept = calloc((size_t)children, sizeof *kept);
    for (int started = 0; started < children; started += wave) {
        int n = children - started < wave ? children - started : wave;
        for (int i = started; i < started + n; i++) {
            kept[i] = parent_work(i);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                void *p = child_work(i);
                if (i % 2) _exit(p ? 0 : 1);
                exit(p ? 0 : 1);
            }
        }
        for (int i = 0; i < n; i++) {
            int status;
            if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
        }
    }
    for (int i = 0; i < children; i++)
        free(kept[i]);
    free(kept);
    printf("fault-fork-storm: %d children, %d failed\n", children, failed);
    return failed ? 1 : 0;
}

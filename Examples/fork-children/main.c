/*
 * Forks N children that each allocate (and keep) a different amount, live briefly and
 * exit; the parent waits for all. Each child must get its own series.
 * Usage: fork-children [children=50] [child-milliseconds=50]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common.h"

__attribute__((noinline)) static void *child_work(int index) {
    size_t n = 1024 * (size_t)(index + 1);
    char *p = malloc(n);
    memset(p, index, n);
    return p;
}

__attribute__((noinline)) static void *parent_work(void) { return malloc(64 * 1024); }

int main(int argc, char **argv) {
    int children = argc > 1 ? atoi(argv[1]) : 50;
    long ms = argc > 2 ? atol(argv[2]) : 50;
    void *kept = parent_work();
    int failed = 0;
    for (int i = 0; i < children; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            void *p = child_work(i);
            example_sleep_ms(ms);
            exit(p ? 0 : 1);
        }
    }
    for (int i = 0; i < children; i++) {
        int status;
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    }
    free(kept);
    printf("fork-children: %d children, %d failed\n", children, failed);
    return failed ? 1 : 0;
}

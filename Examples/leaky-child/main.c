/*
 * A steady parent with a leaking worker child: only the child's series may be flagged.
 * Usage: leaky-child [seconds=30]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common.h"

__attribute__((noinline)) static void *worker_cache_entry(int i) {
    char *p = malloc(512);
    memset(p, i, 512);
    return p;
}

__attribute__((noinline)) static void parent_tick(void) {
    char *p = malloc(2048);
    memset(p, 0, 2048);
    free(p);
}

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 30);
    pid_t child = fork();
    if (child < 0) return 1;
    double start = example_now();
    if (child == 0) {
        void **kept = malloc(sizeof(void *) * 1000000);
        int n = 0;
        while ((seconds == 0 || example_now() - start < seconds) && n < 1000000) {
            for (int i = 0; i < 10; i++)
                kept[n] = worker_cache_entry(n), n++;
            example_sleep_ms(10);
        }
        printf("leaky-child worker: %d entries kept\n", n);
        exit(0);
    }
    while (seconds == 0 || example_now() - start < seconds) {
        parent_tick();
        example_sleep_ms(10);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("leaky-child parent: worker exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

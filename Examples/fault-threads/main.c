/*
 * Starts thousands of short-lived threads, a few at a time; each allocates, frees most of it,
 * and hands one block to the main thread, which frees it after the join.
 * Usage: fault-threads [threads=3000]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

__attribute__((noinline)) static void *thread_work(void *argument) {
    size_t index = (size_t)argument;
    for (int i = 0; i < 16; i++)
        free(malloc(24 + (size_t)i * 8));
    char *handed = malloc(100 + index % 50);
    memset(handed, 3, 100);
    return handed;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 3000;
    int started = 0, failed = 0;
    enum { batch = 8 };
    while (started < threads) {
        pthread_t ids[batch];
        int n = 0;
        for (; n < batch && started < threads; n++, started++) {
            if (pthread_create(&ids[n], NULL, thread_work, (void *)(size_t)started) != 0) {
                failed++;
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            void *handed = NULL;
            pthread_join(ids[i], &handed);
            if (!handed) failed++;
            free(handed);
        }
    }
    printf("fault-threads: %d threads, %d failed\n", threads, failed);
    return failed ? 1 : 0;
}

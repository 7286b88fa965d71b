/*
 * dlopens and dlcloses a library over and over, calling into it, while other threads allocate.
 * Usage: fault-dlopen LIBRARY [rounds=300] [function=none]   (function: int f(int), called with the round)
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

static atomic_int stopping;

__attribute__((noinline)) static void *worker(void *argument) {
    (void)argument;
    long rounds = 0;
    while (!atomic_load(&stopping)) {
        void *blocks[32];
        for (int i = 0; i < 32; i++)
            blocks[i] = malloc(16 + (size_t)i * 16);
        for (int i = 0; i < 32; i++)
            free(blocks[i]);
        rounds++;
    }
    return (void *)rounds;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fault-dlopen LIBRARY [rounds] [function]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 300;
    const char *function = argc > 3 ? argv[3] : NULL;
    pthread_t workers[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&workers[i], NULL, worker, NULL);
    int failed = 0;
    for (int i = 0; i < rounds; i++) {
        void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!library) {
            failed++;
            continue;
        }
        if (function) {
            int (*call)(int) = (int (*)(int))dlsym(library, function);
            if (call)
                call(i);
            else
                failed++;
        }
        dlclose(library);
    }
    atomic_store(&stopping, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(workers[i], NULL);
    printf("fault-dlopen: %d rounds, %d failed\n", rounds, failed);
    return failed ? 1 : 0;
}

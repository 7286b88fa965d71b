/*
 * A timer signal every 500 us whose handler itself calls malloc and free, while the main loop
 * allocates and frees without pause: signals land inside malloc, free and the tracker's hooks.
 * The handler uses one size class that the main loop never uses, warmed up before the timer starts,
 * so glibc serves it from its per-thread cache without taking an arena lock: the program is
 * deadlock-free on its own, and any hang under the tracker is the tracker's.
 * Usage: fault-signals [seconds=3]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "../common.h"

static volatile sig_atomic_t handled;

__attribute__((noinline)) static void on_timer(int signal) {
    (void)signal;
    char *p = malloc(24);
    if (p) p[0] = 1;
    free(p);
    handled = handled + 1;
}

__attribute__((noinline)) static void *main_work(size_t i) { return malloc(64 + (i * 37) % 2000); }

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 3);
    free(malloc(24));
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_timer;
    action.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval timer = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &timer, NULL);
    double start = example_now();
    void *ring[256] = {0};
    size_t i = 0;
    while (example_now() - start < seconds) {
        for (int k = 0; k < 1000; k++, i++) {
            free(ring[i % 256]);
            ring[i % 256] = main_work(i);
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    for (int k = 0; k < 256; k++)
        free(ring[k]);
    printf("fault-signals: %s\n", handled > 0 ? "signals handled" : "no signal handled");
    return handled > 0 ? 0 : 1;
}

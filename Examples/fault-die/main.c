/*
 * Allocates, prints a line, then ends the way it is told: exit CODE, _exit CODE, or abort or kill
 * (SIGABRT or SIGKILL to itself after allocating for MICROSECONDS: at any point of a snapshot).
 * Under the tracker it writes one snapshot before the deadly loop, so a complete one always exists.
 * `fault-die tracker` only reports whether the tracker is loaded and active.
 * Usage: fault-die exit|_exit CODE | fault-die abort|kill MICROSECONDS | fault-die tracker
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"

/* The tracker's API (Sources/MemdriftTracker/include/memdrift.h); null when it is not preloaded. */
__attribute__((weak)) int memdrift_snapshot_now(void);
__attribute__((weak)) int memdrift_is_active(void);

__attribute__((noinline)) static void *keep(size_t i) { return malloc(48 + i % 512); }

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "exit";
    if (strcmp(how, "tracker") == 0) {
        printf("fault-die: tracker loaded=%d active=%d\n", memdrift_is_active != NULL,
               memdrift_is_active ? memdrift_is_active() : 0);
        return 0;
    }
    long value = argc > 2 ? atol(argv[2]) : 0;
    void *kept = NULL;
    for (size_t i = 0; i < 1000; i++)
        kept = keep(i);
    printf("fault-die: %s %ld\n", how, value);
    fflush(stdout);
    if (strcmp(how, "exit") == 0) exit((int)value);
    if (strcmp(how, "_exit") == 0) _exit((int)value);
    if (strcmp(how, "abort") == 0 || strcmp(how, "kill") == 0) {
        if (memdrift_snapshot_now) memdrift_snapshot_now();
        double end = example_now() + (double)value / 1e6;
        for (size_t i = 0; example_now() < end; i++) {
            void *p = keep(i);
            if (i % 4) free(p);
        }
        if (how[0] == 'a') abort();
        kill(getpid(), SIGKILL);
    }
    return kept ? 2 : 3;
}

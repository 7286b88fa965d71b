/* Shared helpers for the example programs: a fixed-rate loop that runs for N seconds. */
#ifndef MEMDRIFT_EXAMPLE_COMMON_H
#define MEMDRIFT_EXAMPLE_COMMON_H

#include <stdlib.h>
#include <time.h>

/* swiftc links the Swift runtime into C executables too; drop it so the examples are plain C. */
__attribute__((section(".swift1_autolink_entries"), used)) static const char example_as_needed[] = "-Wl,--as-needed";

static double example_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* First argument: seconds to run (default `fallback`); 0 means until killed. */
static double example_seconds(int argc, char **argv, double fallback) { return argc > 1 ? atof(argv[1]) : fallback; }

static void example_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif

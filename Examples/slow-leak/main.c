/*
 * A slow leak under heavy churn: every request replaces one of 16 buffers of 16-64 KiB
 * (megabytes of allocation per second, a noisy live heap) and leaks 32 bytes in
 * audit_request. Usage: slow-leak [seconds=60] [requests-per-second=200]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

#define SLOTS 16

static void *slots[SLOTS];
static unsigned long long rng = 0x9E3779B97F4A7C15ull;

static unsigned next_random(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(rng >> 33);
}

__attribute__((noinline)) static void *response_buffer(size_t n) {
    char *p = malloc(n);
    memset(p, 0, 256);
    return p;
}

struct audit {
    struct audit *next;
    int id;
    int flags;
    char tag[16];
};

static struct audit *audit_log;

/* The leak: 32 bytes per request, kept forever. */
__attribute__((noinline)) static void audit_request(int id) {
    struct audit *a = malloc(sizeof *a);
    a->id = id;
    a->flags = 0;
    memcpy(a->tag, "audit", 6);
    a->next = audit_log;
    audit_log = a;
}

int main(int argc, char **argv) {
    double seconds = example_seconds(argc, argv, 60);
    int rate = argc > 2 ? atoi(argv[2]) : 200;
    if (rate < 10) rate = 10;
    double start = example_now();
    int id = 0;
    while (seconds == 0 || example_now() - start < seconds) {
        for (int i = 0; i < rate / 100; i++, id++) {
            unsigned slot = next_random() % SLOTS;
            free(slots[slot]);
            slots[slot] = response_buffer(16384 + next_random() % 49152);
            audit_request(id);
        }
        example_sleep_ms(10);
    }
    for (int i = 0; i < SLOTS; i++)
        free(slots[i]);
    printf("slow-leak: %d requests\n", id);
    return 0;
}

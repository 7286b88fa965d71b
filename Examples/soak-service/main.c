/*
 * A four-worker service of the kind soak tests run: every request allocates and frees its
 * buffers; 1 in 200 fails and its error record is kept forever (the leak, on an error path);
 * a lookup cache fills during the first seconds and then stays; each worker collects request
 * records into a batch that it frees every 5,000 requests (20,000 for the four workers). The
 * heap total is a sawtooth whose troughs rise slowly: the leak is under it.
 * Usage: soak-service [seconds=45] [requests-per-second=5000]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"

#define WORKERS 4
#define BATCH 5000
#define CACHE_ENTRIES 2048

struct error_record {
    struct error_record *next;
    char detail[248];
};

static struct error_record *errors;
static pthread_mutex_t errors_lock = PTHREAD_MUTEX_INITIALIZER;
static void *cache[CACHE_ENTRIES];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static double seconds;
static int rate;

/* The leak: a failed request's record is linked into a list nobody trims. */
__attribute__((noinline)) static void keep_error(int worker, long id) {
    struct error_record *r = malloc(sizeof *r);
    snprintf(r->detail, sizeof r->detail, "worker %d request %ld failed", worker, id);
    pthread_mutex_lock(&errors_lock);
    r->next = errors;
    errors = r;
    pthread_mutex_unlock(&errors_lock);
}

/* Bounded: one entry per key, 2,048 keys of 1 KiB, filled once. */
__attribute__((noinline)) static void cache_lookup(long id) {
    int key = (int)(id % CACHE_ENTRIES);
    pthread_mutex_lock(&cache_lock);
    if (!cache[key]) {
        cache[key] = malloc(1024);
        memset(cache[key], key & 0xFF, 1024);
    }
    pthread_mutex_unlock(&cache_lock);
}

__attribute__((noinline)) static void *batch_record(long id) {
    char *r = malloc(512);
    snprintf(r, 512, "record %ld", id);
    return r;
}

__attribute__((noinline)) static void flush_batch(void **batch, int n) {
    for (int i = 0; i < n; i++)
        free(batch[i]);
}

__attribute__((noinline)) static size_t handle(int worker, long id, void **batch, int *n) {
    char *request = malloc(1024);
    size_t length = (size_t)snprintf(request, 1024, "GET /items/%ld", id);
    if (id % 8 < 2 || id < CACHE_ENTRIES * 4) cache_lookup(id / 4);
    if (id % 200 == 199) keep_error(worker, id);
    batch[(*n)++] = batch_record(id);
    if (*n == BATCH) {
        flush_batch(batch, *n);
        *n = 0;
    }
    free(request);
    return length;
}

static void *worker_main(void *arg) {
    int worker = (int)(long)arg;
    void *batch[BATCH];
    int n = 0;
    long id = worker;
    double start = example_now();
    int per_tick = rate / WORKERS / 100;
    if (per_tick < 1) per_tick = 1;
    while (seconds == 0 || example_now() - start < seconds) {
        for (int i = 0; i < per_tick; i++, id += WORKERS)
            handle(worker, id, batch, &n);
        example_sleep_ms(10);
    }
    flush_batch(batch, n);
    return NULL;
}

int main(int argc, char **argv) {
    seconds = example_seconds(argc, argv, 45);
    rate = argc > 2 ? atoi(argv[2]) : 5000;
    if (rate < 1) rate = 1;
    pthread_t threads[WORKERS];
    for (long w = 0; w < WORKERS; w++)
        pthread_create(&threads[w], NULL, worker_main, (void *)w);
    for (int w = 0; w < WORKERS; w++)
        pthread_join(threads[w], NULL);
    long kept = 0;
    for (struct error_record *r = errors; r; r = r->next)
        kept++;
    printf("soak-service: %ld error records kept\n", kept);
    return 0;
}

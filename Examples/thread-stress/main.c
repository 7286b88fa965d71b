/*
 * Four threads allocate and free concurrently; a quarter of the blocks are handed to
 * the next thread and freed there, so frees credit stacks allocated elsewhere.
 * At the end nothing allocated in the loop is live, except one deliberately kept
 * block per thread (keep_one), so a correct tracker shows exactly 4 live blocks there.
 * Usage: thread-stress [iterations-per-thread=200000]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common.h"

#define THREADS 4
#define QUEUE 1024

struct queue {
    pthread_mutex_t lock;
    void *items[QUEUE];
    int count;
};

static struct queue queues[THREADS];
static long iterations;
static void *kept[THREADS];

__attribute__((noinline)) static void *work_item(long i) { return malloc((size_t)(32 + (i % 512))); }

__attribute__((noinline)) static void *keep_one(void) { return malloc(777); }

static void hand_over(int to, void *p) {
    struct queue *q = &queues[to];
    pthread_mutex_lock(&q->lock);
    if (q->count < QUEUE) {
        q->items[q->count++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    free(p);
}

static void drain(int self) {
    struct queue *q = &queues[self];
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < q->count; i++)
        free(q->items[i]);
    q->count = 0;
    pthread_mutex_unlock(&q->lock);
}

static void *worker(void *arg) {
    int self = (int)(long)arg;
    kept[self] = keep_one();
    for (long i = 0; i < iterations; i++) {
        void *p = work_item(i);
        if (i % 4 == 0)
            hand_over((self + 1) % THREADS, p);
        else
            free(p);
        if (i % 64 == 0) drain(self);
    }
    return NULL;
}

int main(int argc, char **argv) {
    iterations = argc > 1 ? atol(argv[1]) : 200000;
    pthread_t ids[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_mutex_init(&queues[t].lock, NULL);
    for (int t = 0; t < THREADS; t++)
        pthread_create(&ids[t], NULL, worker, (void *)(long)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(ids[t], NULL);
    for (int t = 0; t < THREADS; t++)
        drain(t);
    printf("thread-stress: %d threads x %ld iterations\n", THREADS, iterations);
    return 0;
}

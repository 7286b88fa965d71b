/*
 * Stacks that look alike where remembered walks join them (cfi_walk.c), for UnwindTests: every
 * allocation happens below anchor_work, which is reached by paths that differ only beyond it.
 * The same caller at the same depth from two call sites, callers whose frames are sized at run
 * time (a VLA: their CFA follows rbp), recursion of varying depth, and threads doing all of it
 * at once. Run with the checker preloaded and CFI_CHECK_ANCHOR=anchor_work; built with
 * -rdynamic so the checker finds the anchor.
 *
 *   anchor-paths ROUNDS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile long sink;

static __attribute__((noinline)) void leaf(int depth, size_t size) {
    if (depth > 0) {
        leaf(depth - 1, size);
        sink += depth;
        return;
    }
    void *p = malloc(size);
    sink += (long)(size_t)p;
    free(p);
}

/* Its frame is sized at run time too, so the walk beyond it follows its rbp. */
__attribute__((noinline, visibility("default"))) void anchor_work(int round, int words) {
    volatile long frame[words];
    frame[0] = round;
    leaf(round % 3, 16 + (size_t)(round % 64));
    leaf(round % 5, 200 + (size_t)frame[0] % 8);
}

/* The same frame calls the anchor from here whoever called it. */
static __attribute__((noinline)) void middle(int round) {
    anchor_work(round, 2);
    sink++;
}

static __attribute__((noinline)) void site_one(int round) {
    middle(round);
    sink++;
}

static __attribute__((noinline)) void site_two(int round) {
    middle(round);
    sink--;
}

/* A frame sized at run time: its CFA follows rbp. */
static __attribute__((noinline)) void sized(int round, int words) {
    volatile long frame[words];
    frame[0] = round;
    if (round & 1)
        site_one((int)frame[0]);
    else
        site_two((int)frame[0]);
}

/* The anchor at the same sp whatever `words` is, but with its rbp (its CFA) `words` apart. */
static __attribute__((noinline)) void shifted(int round, int words) {
    volatile long frame[words];
    frame[0] = round;
    anchor_work(round, 64 - words);
    sink += frame[0];
}

static __attribute__((noinline)) void shift_one(int round) {
    shifted(round, 2 * (1 + round % 8));
    sink++;
}

static __attribute__((noinline)) void shift_two(int round) {
    shifted(round, 2 * (1 + round % 8));
    sink--;
}

static __attribute__((noinline)) void nested(int round, int depth) {
    if (depth > 0) {
        nested(round, depth - 1);
        sink++;
        return;
    }
    sized(round, 1 + round % 3);
}

static void *worker(void *argument) {
    long rounds = (long)argument;
    for (long r = 0; r < rounds; r++) {
        switch (r / 8 % 6) { /* a path for eight rounds, then the next */
        case 0:
            site_one((int)r);
            break;
        case 1:
            site_two((int)r);
            break;
        case 2:
            sized((int)r, 1 + (int)(r % 7));
            break;
        case 3:
            shift_one((int)r);
            break;
        case 4:
            shift_two((int)r);
            break;
        default:
            nested((int)r, (int)(r / 4 % 4));
            break;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 10000;
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, worker, (void *)rounds);
    worker((void *)rounds);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    printf("%ld\n", rounds);
    return 0;
}

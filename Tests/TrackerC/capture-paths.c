/*
 * Two stacks that a remembered capture must tell apart by the rbp its walk starts from: malloc is
 * called from `leaf` at the same stack position with the same return address, under `outer_a` or
 * `outer_b`. Both make room on the stack at run time (so their frames and leaf's are found from
 * rbp), in amounts that add up to the same, so only leaf's rbp says which one called it; and the
 * room they make is left unwritten, so the words the other path's walk read are still there (nothing
 * is freed between the calls, which would write there).
 * Run with the checked tracker (Tests/EndToEndTests/CaptureTests.swift):
 *   capture-paths ITERATIONS  -> prints ITERATIONS
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void *leaf(size_t room) {
    volatile char *p = __builtin_alloca(room);
    p[0] = 1;
    void *block = malloc(24);
    p[1] = 2; /* the call stays a call, with leaf's frame around it */
    return block;
}

#define OUTER(name, mark)                                                                                              \
    __attribute__((noinline)) static void *name(size_t room, size_t leaf_room) {                                       \
        volatile char *p = __builtin_alloca(room);                                                                     \
        p[0] = 1;                                                                                                      \
        void *block = leaf(leaf_room);                                                                                 \
        p[1] = mark; /* unlike code: the two are not folded into one */                                                \
        return block;                                                                                                  \
    }
OUTER(outer_a, 2)
OUTER(outer_b, 3)

/* Read through volatile, so the loop has one call site for both paths. */
static void *(*volatile outers[2])(size_t, size_t) = {outer_b, outer_a};
static volatile size_t rooms[2] = {256, 64};

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 10000;
    for (long i = 0; i < iterations; i++) {
        size_t room = rooms[i & 1];
        if (!outers[i & 1](room, 320 - room)) return 1;
    }
    printf("%ld\n", iterations);
    return 0;
}

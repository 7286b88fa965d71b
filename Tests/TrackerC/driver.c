/*
 * Exercises the tracker's tables through its internal C API from several threads, without the
 * malloc hooks (hooks.c is left out: a sanitizer interposes malloc itself). Built and run by
 * scripts/sanitizers.sh under AddressSanitizer + UndefinedBehaviorSanitizer and under
 * ThreadSanitizer. Exits 1 with a message when a table lost or invented something.
 * Usage: driver SNAPSHOT-FILE
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracker.h"

/* What hooks.c would provide: the driver calls no hook, so there is nothing to resolve, and
 * the tracker's memory goes through the sanitizer's mmap. */
const char *md_hooks_init(void) { return NULL; }
void md_hooks_resolve(void) {}
int md_hooks_sample(size_t size, int zeroed, void **out) {
    (void)size, (void)zeroed, (void)out;
    return 0;
}
void *md_real_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    return mmap(address, length, prot, flags, fd, offset);
}
int md_real_munmap(void *address, size_t length) { return munmap(address, length); }
void *md_real_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address) {
    return mremap(old, old_length, new_length, flags, new_address);
}

enum { THREADS = 4, STACKS_PER_THREAD = 2000, SHARED_STACKS = 500, BLOCKS = 20000, ROUNDS = 3 };

static uint32_t shared_ids[THREADS][SHARED_STACKS];
static pthread_mutex_t snapshot_mutex = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "driver: %s\n", what);
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
}

/* A stack of plausible return addresses; `key` makes it distinct, `depth` varies with it. One in
 * three carries a source frame, as a Python program's do, interned from every thread at once. */
static int make_stack(uintptr_t *out, uint32_t key) {
    int n = 1 + (int)(key % 12), k = 0;
    for (int i = 0; i < n; i++) {
        if (i == 1 && key % 3 == 0) {
            char function[32];
            int length = snprintf(function, sizeof function, "function_%u", key % 50);
            uint32_t id = md_sources_intern("python", function, (size_t)length, "driver.py", 9, key % 100 + 1);
            check(id != UINT32_MAX, "a source frame got no id");
            out[k++] = MD_SOURCE_KEY(id);
        }
        out[k++] = (uintptr_t)&make_stack + 16u * (key * 31u + (uint32_t)i);
    }
    return k;
}

static void encode_once(md_buffer *b) {
    pthread_mutex_lock(&snapshot_mutex); /* the tracker serializes snapshots with its writer lock */
    b->length = 0;
    b->failed = 0;
    md_written checkpoint = {.checkpoint = 1};
    md_snapshot_encode(b, MEMDRIFT_REASON_API, 0, 1, &checkpoint);
    check(!b->failed && b->length > 96, "a snapshot could not be encoded");
    check(b->length > 8 && memcmp(b->data, MEMDRIFT_FORMAT_MAGIC, 8) == 0, "a snapshot lacks its magic");
    pthread_mutex_unlock(&snapshot_mutex);
}

static void *worker(void *argument) {
    int index = (int)(intptr_t)argument;
    uintptr_t addresses[16];
    for (int i = 0; i < SHARED_STACKS; i++)
        shared_ids[index][i] = md_stacks_intern(addresses, make_stack(addresses, (uint32_t)i));
    uint32_t own[STACKS_PER_THREAD];
    for (int i = 0; i < STACKS_PER_THREAD; i++) {
        own[i] = md_stacks_intern(addresses, make_stack(addresses, 100000u * (uint32_t)(index + 1) + (uint32_t)i));
        check(own[i] != MD_UNKNOWN_STACK, "a new stack got no id");
    }
    /* Real walks of this thread's stack: the walker's caches and bounds under the sanitizers. */
    for (int i = 0; i < 2000; i++) {
        uintptr_t frames[MD_DEFAULT_DEPTH + MD_UNWIND_SLACK];
        int plain;
        check(md_unwind_capture(frames, MD_DEFAULT_DEPTH, &plain) > 0, "a stack walk found no frame");
    }
    md_buffer local = {0};
    for (int round = 0; round < ROUNDS; round++) {
        /* Blocks of 32 bytes with 16-byte tags, as hooks.c counts them. */
        for (int i = 0; i < BLOCKS; i++)
            md_count_alloc(own[i % STACKS_PER_THREAD], 32, 1, 16);
        /* Free every block but the last round's odd ones: those stay live. */
        for (int i = 0; i < BLOCKS; i++) {
            if (round == ROUNDS - 1 && i % 2) continue;
            md_count_free(own[i % STACKS_PER_THREAD], 32, 1, 16);
        }
        encode_once(&local);
    }
    /* The table of mappings, each thread in an address range of its own: map 2 writable pages and
     * a third that is not, commit it, and take every other one back out. The last 64 rounds leave
     * 32 slots of 3 writable pages. */
    uintptr_t base = (uintptr_t)0x200000000ull + (uintptr_t)index * 0x10000000u;
    for (int i = 0; i < 1000; i++) {
        uintptr_t at = base + (uintptr_t)(i % 64) * 3 * 4096;
        md_mappings_add(at, at + 2 * 4096, 1, 1, own[i % STACKS_PER_THREAD]);
        md_mappings_add(at + 2 * 4096, at + 3 * 4096, 1, 0, MD_UNKNOWN_STACK);
        md_mappings_protect(at + 4096, at + 3 * 4096, 1, own[0]);
        if (i % 2) {
            md_mappings_taken taken;
            md_mappings_take(at, at + 3 * 4096, &taken);
            md_mappings_release(&taken);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: driver SNAPSHOT-FILE\n");
        return 2;
    }
    md_config.pid = getpid();
    md_config.depth = MD_DEFAULT_DEPTH;
    md_unwind_init();
    md_sampling_init(0);
    if (md_stacks_init() != 0) {
        fprintf(stderr, "driver: cannot initialize the tables\n");
        return 1;
    }
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);

    for (int t = 1; t < THREADS; t++) {
        check(memcmp(shared_ids[0], shared_ids[t], sizeof shared_ids[0]) == 0, "one stack got two ids");
    }
    uint32_t expected_stacks = SHARED_STACKS + THREADS * STACKS_PER_THREAD;
    check(md_stacks_count() >= expected_stacks, "stacks are missing from the table");

    /* The threads have exited: their counters must have been folded into the totals. */
    md_buffer b = {0};
    md_totals totals = {0};
    md_written written = {.checkpoint = 1};
    check(md_written_reserve(&written, md_stacks_count(), 1) == 0, "no memory for the written state");
    md_buffer splices = {0};
    md_stacks_write(&b, &splices, &totals, &written, md_stacks_count());
    check(totals.live_count == (uint64_t)THREADS * BLOCKS / 2, "live block count after the threads exited");
    check(totals.live_bytes == (uint64_t)THREADS * BLOCKS / 2 * 32, "live bytes after the threads exited");
    check(totals.alloc_count == (uint64_t)THREADS * BLOCKS * ROUNDS, "allocation count after the threads exited");
    check(totals.tag_bytes == (uint64_t)THREADS * BLOCKS / 2 * 16, "tag bytes after the threads exited");

    md_buffer mapped = {0};
    md_totals mapped_totals = {0};
    md_mappings_write(&mapped, md_stacks_count(), &mapped_totals, &written);
    check(mapped_totals.mapped_live_bytes == (uint64_t)THREADS * 32 * 3 * 4096, "live mapped bytes");
    check(mapped_totals.mapped_live_count == (uint64_t)THREADS * 32 * 2, "live mapped ranges");

    md_buffer file = {0};
    encode_once(&file);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    check(fd >= 0 && write(fd, file.data, file.length) == (ssize_t)file.length, "cannot write the snapshot file");
    if (fd >= 0) close(fd);
    if (failures) return 1;
    printf("driver: %u stacks, %llu live blocks, snapshot of %zu bytes\n", md_stacks_count(),
           (unsigned long long)totals.live_count, file.length);
    return 0;
}

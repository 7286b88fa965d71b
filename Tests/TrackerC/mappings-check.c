/*
 * Checks the tracker's table of mappings (mappings.c) against a model that keeps every page:
 * random maps, protection changes, unmaps and remaps over a small address space, and after each
 * one the MAPPED counters of every stack and the table's view of every page must match.
 *
 * The model: a page is absent, kept but not writable, or writable with its stack and the id of
 * the range it belongs to. A stack's live ranges are the maximal runs of contiguous pages with
 * the same id, which is what the table keeps: ranges of separate calls are never merged, and a
 * range split by a later call counts as its pieces.
 *
 * Built and run by the end-to-end TrackerTests:
 *   cc -O1 -D_GNU_SOURCE -ISources/MemdriftTracker -ISources/MemdriftTracker/include
 *      Tests/TrackerC/mappings-check.c Sources/MemdriftTracker/mappings.c
 *      Sources/MemdriftTracker/memory.c -o mappings-check
 * Usage: mappings-check [operations=20000] [seed=1]; prints "mappings-check: ok" or what differed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tracker.h"

/* What session.c and hooks.c would provide. */
void md_fail(const char *what, int error) {
    fprintf(stderr, "mappings-check: md_fail: %s: %s\n", what, strerror(error));
    exit(1);
}
void *md_real_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    return mmap(address, length, prot, flags, fd, offset);
}
int md_real_munmap(void *address, size_t length) { return munmap(address, length); }
void *md_real_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address) {
    return mremap(old, old_length, new_length, flags, new_address);
}

/* Enough pages for the table to outgrow its first 256 ranges, and for one call to take more
 * ranges than md_mappings_taken holds without mapping memory. */
enum { PAGES = 768, STACKS = 6, PAGE = 4096 };
#define BASE ((uintptr_t)0x100000000ull)
#define ADDRESS(page) (BASE + (uintptr_t)(page)*PAGE)

typedef struct {
    int state; /* 0 absent, 1 kept, not writable, 2 writable */
    uint32_t stack;
    uint64_t id;
} page;

static page model[PAGES];
static uint64_t next_id = 1, since_bytes[STACKS], since_count[STACKS];
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static int below(int n) { return (int)(next_random() % (uint64_t)n); }

/* ---- the model of each operation ---- */

static void model_add(int first, int n, int kept, int writable, uint32_t stack) {
    uint64_t id = next_id++;
    for (int p = first; p < first + n; p++)
        model[p] = kept ? (page){writable ? 2 : 1, writable ? stack : 0, writable ? id : 0} : (page){0, 0, 0};
    if (kept && writable) {
        since_bytes[stack] += (uint64_t)n * PAGE;
        since_count[stack]++;
    }
}

static void model_protect(int first, int n, int writable, uint32_t stack) {
    uint64_t id = next_id++, committed = 0;
    for (int p = first; p < first + n; p++) {
        if (model[p].state == 0 || (model[p].state == 2) == !!writable) continue;
        /* Pages of one call that were not writable between separate runs: one id per run. */
        if (writable && p > first && model[p - 1].state == 2 && model[p - 1].id == id) {
        } else if (writable) {
            id = next_id++;
        }
        model[p] = writable ? (page){2, stack, id} : (page){1, 0, 0};
        if (writable) committed += PAGE;
    }
    if (committed) {
        since_bytes[stack] += committed;
        since_count[stack]++;
    }
}

/* Ranges taken out of the table and put back (moved, or restored after a failed call) are
 * ranges of their own, even beside a piece of the same call: each run gets a new id. */
static void renumber(page *pages, int n) {
    for (int p = 0; p < n; p++) {
        if (pages[p].state != 2) continue;
        uint64_t old = pages[p].id, id = next_id++;
        for (; p < n && pages[p].state == 2 && pages[p].id == old; p++)
            pages[p].id = id;
        p--;
    }
}

/* mremap from `first` (`before` pages) to `to` (`after` pages); `to` == first when in place. */
static void model_remap(int first, int before, int to, int after, uint32_t stack) {
    page moved[PAGES];
    memcpy(moved, &model[first], sizeof(page) * (size_t)before);
    renumber(moved, before);
    for (int p = first; p < first + before; p++)
        model[p] = (page){0, 0, 0};
    for (int p = 0; p < after; p++)
        model[to + p] = p < before ? moved[p] : (page){0, 0, 0};
    if (after > before && moved[before - 1].state) {
        int writable = moved[before - 1].state == 2;
        model_add(to + before, after - before, 1, writable, stack);
    }
}

/* ---- the same operations on the table, as hooks.c makes them ---- */

static void table_remap(int first, int before, int to, int after, uint32_t stack) {
    md_mappings_taken taken;
    md_mappings_take(ADDRESS(first), ADDRESS(first + before), &taken);
    const md_mapping *last = taken.count ? &taken.list[taken.count - 1] : NULL;
    int grows = after > before && last && last->end == (uintptr_t)before * PAGE;
    md_mappings_put(&taken, ADDRESS(to), (uintptr_t)after * PAGE);
    if (grows) md_mappings_add(ADDRESS(to + before), ADDRESS(to + after), 1, (int)last->writable, stack);
    md_mappings_release(&taken);
}

static void table_unmap(int first, int n, int fails) {
    md_mappings_taken taken;
    md_mappings_take(ADDRESS(first), ADDRESS(first + n), &taken);
    if (fails) md_mappings_put(&taken, ADDRESS(first), (uintptr_t)n * PAGE);
    md_mappings_release(&taken);
}

/* ---- comparing ---- */

static int compare(int step, const char *what) {
    uint64_t live_bytes[STACKS] = {0}, live_count[STACKS] = {0};
    for (int p = 0; p < PAGES; p++) {
        if (model[p].state != 2) continue;
        live_bytes[model[p].stack] += PAGE;
        if (p == 0 || model[p - 1].state != 2 || model[p - 1].id != model[p].id) live_count[model[p].stack]++;
    }
    md_buffer b = {0};
    md_totals totals = {0};
    static int64_t heap[STACKS * 4], mapped[STACKS * 4];
    static uint8_t given[STACKS];
    md_written written = {.checkpoint = 1, .heap = heap, .mapped = mapped, .given = given, .stacks = STACKS};
    md_mappings_write(&b, STACKS, &totals, &written);
    uint64_t got[STACKS][4] = {{0}};
    uint32_t n;
    memcpy(&n, b.data, 4);
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *r = b.data + 4 + 40 * (size_t)i;
        uint32_t id;
        memcpy(&id, r, 4);
        memcpy(got[id], r + 8, 32);
    }
    md_unmap(b.data, b.capacity);
    int bad = 0;
    for (int s = 0; s < STACKS; s++) {
        uint64_t want[4] = {live_bytes[s], live_count[s], since_bytes[s], since_count[s]};
        if (memcmp(want, got[s], sizeof want) != 0) {
            fprintf(stderr,
                    "mappings-check: step %d (%s): stack %d has %llu bytes in %llu ranges, %llu bytes in %llu calls; "
                    "the model %llu in %llu, %llu in %llu\n",
                    step, what, s, (unsigned long long)got[s][0], (unsigned long long)got[s][1],
                    (unsigned long long)got[s][2], (unsigned long long)got[s][3], (unsigned long long)want[0],
                    (unsigned long long)want[1], (unsigned long long)want[2], (unsigned long long)want[3]);
            bad = 1;
        }
    }
    for (int p = 0; p < PAGES && !bad; p++) {
        int state = md_mappings_state(ADDRESS(p));
        if (state != model[p].state - 1) {
            fprintf(stderr, "mappings-check: step %d (%s): page %d is %d in the table, %d in the model\n", step, what,
                    p, state, model[p].state - 1);
            bad = 1;
        }
    }
    return bad;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 20000;
    rng ^= argc > 2 ? strtoull(argv[2], NULL, 10) * 0x100000001B3ull : 0;
    for (int step = 0; step < steps; step++) {
        int most = below(2)   ? 2
                   : below(8) ? 24
                              : 192,
            first = below(PAGES), n = 1 + below(PAGES - first < most ? PAGES - first : most);
        uint32_t stack = (uint32_t)below(STACKS);
        int writable = below(2), kind = below(10);
        const char *what;
        if (step % 5000 == 0) {
            /* Page-sized mappings everywhere: the table grows, and calls take many ranges at once. */
            what = "fill";
            for (int p = 0; p < PAGES; p++) {
                model_add(p, 1, 1, p % 3 != 0, (uint32_t)p % STACKS);
                md_mappings_add(ADDRESS(p), ADDRESS(p + 1), 1, p % 3 != 0, (uint32_t)p % STACKS);
            }
        } else if (kind < 3) {
            int kept = below(4) != 0;
            what = "map";
            model_add(first, n, kept, writable, stack);
            md_mappings_add(ADDRESS(first), ADDRESS(first + n), kept, kept && writable, stack);
        } else if (kind < 6) {
            what = writable ? "protect writable" : "protect not writable";
            int commits = md_mappings_commits(ADDRESS(first), ADDRESS(first + n));
            int before = 0;
            for (int p = first; p < first + n; p++)
                before |= model[p].state == 1;
            if (writable && commits != before) {
                fprintf(stderr, "mappings-check: step %d: commits says %d, the model %d\n", step, commits, before);
                return 1;
            }
            model_protect(first, n, writable, stack);
            md_mappings_protect(ADDRESS(first), ADDRESS(first + n), writable, stack);
        } else if (kind < 8) {
            int fails = below(8) == 0;
            what = fails ? "failed unmap" : "unmap";
            if (fails)
                renumber(&model[first], n);
            else
                model_add(first, n, 0, 0, 0);
            table_unmap(first, n, fails);
        } else {
            int after = 1 + below(most), to = below(2) ? first : below(PAGES - after + 1);
            what = to == first ? "remap in place" : "remap to elsewhere";
            if (first + after > PAGES || (to != first && to < first + n && first < to + after)) continue;
            model_remap(first, n, to, after, stack);
            table_remap(first, n, to, after, stack);
        }
        if (compare(step, what)) return 1;
    }
    printf("mappings-check: ok\n");
    return 0;
}

/*
 * Mappings the program makes itself (hooks.c interposes mmap, munmap, mremap and mprotect):
 * a table of its live ranges and, per stack id, the mapped counters a snapshot writes.
 *
 * The table is a sorted array of disjoint page ranges. A writable range counts against the
 * stack that mapped it, or the one whose mprotect made it writable. A range that is not
 * writable (a PROT_NONE reservation, a read-only private file mapping) counts nothing: it is
 * kept so that a later mprotect knows the program made it, and adjacent ones are merged.
 * Only mappings that can hold the program's own data are kept at all: anonymous ones, shared
 * or private, and private file mappings.
 *
 * A writable range counts as one live mapping. A range that is split (a munmap punching a
 * hole, an mprotect changing part of it) counts as the pieces it leaves; ranges made by
 * separate calls are never merged, so each mmap stays one mapping.
 *
 * One lock guards the table and the counters. It is the innermost of the tracker's locks:
 * nothing else is taken while it is held, and no system call the program asked for is made
 * under it. Memory comes from md_map; the tracker never calls malloc.
 */
#include <errno.h>
#include <string.h>

#include "tracker.h"

typedef struct {
    int64_t live_bytes, live_count; /* writable ranges held now */
    uint64_t bytes, count;          /* made writable since start: by mmap, mprotect, mremap growth */
} md_mapped;

static md_lock table_lock;
/* The ranges are table[0..used), inside buffer[0..capacity) with room on both sides: an insert or
 * a removal moves the shorter side, so the common cases (a new mapping below all others, as the
 * kernel places them, or above) move nothing. */
static md_mapping *buffer, *table;
static size_t used, capacity;
static md_mapped *counters; /* by stack id */
static size_t counter_capacity;
static int out_of_memory; /* under table_lock: reported once the lock is released */

static void lock_table(void) { md_lock_acquire(&table_lock); }

static void unlock_table(void) {
    int failed = out_of_memory;
    out_of_memory = 0;
    md_lock_release(&table_lock);
    if (failed) md_fail("cannot map memory for the table of mappings", ENOMEM);
}

/* Caller holds table_lock. NULL when memory ran out. */
static md_mapped *counters_of(uint32_t stack) {
    if (stack >= counter_capacity) {
        size_t want = counter_capacity ? counter_capacity : 1024;
        while (want <= stack)
            want *= 2;
        md_mapped *bigger = md_map(want * sizeof *bigger);
        if (!bigger) {
            out_of_memory = 1;
            return NULL;
        }
        if (counters) {
            memcpy(bigger, counters, counter_capacity * sizeof *counters);
            md_unmap(counters, counter_capacity * sizeof *counters);
        }
        counters = bigger;
        counter_capacity = want;
    }
    return &counters[stack];
}

/* Adds (sign 1) or removes (sign -1) a range from its stack's live counters. */
static void count_live(const md_mapping *m, int sign) {
    if (!m->writable) return;
    md_mapped *c = counters_of(m->stack);
    if (!c) return;
    c->live_bytes += sign * (int64_t)(m->end - m->start);
    c->live_count += sign;
}

/* Bytes made writable by one call of the program. */
static void count_added(uint32_t stack, uint64_t bytes) {
    md_mapped *c = counters_of(stack);
    if (!c) return;
    c->bytes += bytes;
    c->count++;
}

/* The first range that ends after `address`. */
static size_t first_after(uintptr_t address) {
    size_t lo = 0, hi = used;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].end <= address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Room for `more` ranges on each side of the table; 0 when memory ran out. */
static int reserve(size_t more) {
    size_t head = (size_t)(table - buffer), tail = capacity - head - used;
    if (head >= more && tail >= more) return 1;
    size_t want = capacity ? capacity : 256;
    while (want < 2 * (used + 2 * more))
        want *= 2;
    md_mapping *bigger = want == capacity ? buffer : md_map(want * sizeof *bigger);
    if (!bigger) {
        out_of_memory = 1;
        return 0;
    }
    md_mapping *centered = bigger + (want - used) / 2;
    if (used) memmove(centered, table, used * sizeof *table);
    if (bigger != buffer && buffer) md_unmap(buffer, capacity * sizeof *buffer);
    buffer = bigger;
    table = centered;
    capacity = want;
    return 1;
}

/* Needs room for one more on each side. */
static void insert_at(size_t i, md_mapping m) {
    if (i < used - i) {
        memmove(table - 1, table, i * sizeof *table);
        table--;
    } else {
        memmove(&table[i + 1], &table[i], (used - i) * sizeof *table);
    }
    table[i] = m;
    used++;
    count_live(&m, 1);
}

/* Ranges before i keep their index, as in insert_at; those after move down by one. */
static void remove_at(size_t i) {
    count_live(&table[i], -1);
    if (i < used - 1 - i) {
        memmove(table + 1, table, i * sizeof *table);
        table++;
    } else {
        memmove(&table[i], &table[i + 1], (used - i - 1) * sizeof *table);
    }
    used--;
}

/* Splits range i at `at`, strictly inside it; i keeps the lower part. Needs room for one more. */
static void split(size_t i, uintptr_t at) {
    md_mapping lower = table[i], upper = table[i];
    count_live(&table[i], -1);
    lower.end = upper.start = at;
    table[i] = lower;
    count_live(&lower, 1);
    insert_at(i + 1, upper);
}

/* Splits range i, which overlaps [lo, hi), so that its overlap is a range of its own; returns
 * that range's index. Needs room for two more. */
static size_t isolate(size_t i, uintptr_t lo, uintptr_t hi) {
    if (table[i].start < lo) split(i++, lo);
    if (table[i].end > hi) split(i, hi);
    return i;
}

/* Drops whatever the table holds in [lo, hi). Needs room for two more. */
static void clear(uintptr_t lo, uintptr_t hi) {
    for (size_t i = first_after(lo); i < used && table[i].start < hi;) {
        i = isolate(i, lo, hi);
        remove_at(i);
    }
}

/* Merges adjacent ranges that are not writable, around [lo, hi). */
static void merge_around(uintptr_t lo, uintptr_t hi) {
    size_t i = first_after(lo);
    if (i > 0) i--;
    while (i + 1 < used && table[i].start <= hi) {
        if (!table[i].writable && !table[i + 1].writable && table[i].end == table[i + 1].start) {
            table[i].end = table[i + 1].end;
            remove_at(i + 1); /* not writable: counts nothing */
        } else {
            i++;
        }
    }
}

void md_mappings_add(uintptr_t start, uintptr_t end, int kept, int writable, uint32_t stack) {
    lock_table();
    if (reserve(3)) {
        clear(start, end);
        if (kept) {
            md_mapping m = {.start = start, .end = end, .stack = writable ? stack : 0, .writable = writable ? 1 : 0};
            insert_at(first_after(start), m);
            if (writable)
                count_added(stack, end - start);
            else
                merge_around(start, end);
        }
    }
    unlock_table();
}

int md_mappings_state(uintptr_t address) {
    lock_table();
    size_t i = first_after(address);
    int state = i < used && table[i].start <= address ? (int)table[i].writable : -1;
    unlock_table();
    return state;
}

int md_mappings_commits(uintptr_t start, uintptr_t end) {
    int found = 0;
    lock_table();
    for (size_t i = first_after(start); i < used && table[i].start < end && !found; i++)
        found = !table[i].writable;
    unlock_table();
    return found;
}

void md_mappings_protect(uintptr_t start, uintptr_t end, int writable, uint32_t stack) {
    lock_table();
    /* Only the first range can straddle `start` and only the last `end`: two splits at most. */
    if (reserve(2)) {
        uint64_t committed = 0;
        for (size_t i = first_after(start); i < used && table[i].start < end; i++) {
            if (!table[i].writable == !writable) continue;
            i = isolate(i, start, end);
            count_live(&table[i], -1);
            table[i].writable = writable ? 1 : 0;
            table[i].stack = writable ? stack : 0;
            count_live(&table[i], 1);
            if (writable) committed += table[i].end - table[i].start;
        }
        if (committed) count_added(stack, committed);
        if (!writable) merge_around(start, end);
    }
    unlock_table();
}

void md_mappings_take(uintptr_t start, uintptr_t end, md_mappings_taken *out) {
    enum { LOCAL = sizeof out->local / sizeof out->local[0] };
    out->list = out->local;
    out->count = out->mapped = 0;
    lock_table();
    if (reserve(2)) {
        size_t n = 0, room = LOCAL;
        for (size_t i = first_after(start); i < used && table[i].start < end; i++)
            n++;
        if (n > LOCAL) {
            md_mapping *list = md_map(n * sizeof *list);
            if (list) {
                out->list = list;
                out->mapped = room = n;
            } else {
                out_of_memory = 1;
            }
        }
        for (size_t i = first_after(start); i < used && table[i].start < end;) {
            i = isolate(i, start, end);
            if (out->count < room) {
                md_mapping m = table[i];
                m.start -= start;
                m.end -= start;
                out->list[out->count++] = m;
            }
            remove_at(i);
        }
    }
    unlock_table();
}

void md_mappings_put(const md_mappings_taken *taken, uintptr_t base, uintptr_t length) {
    lock_table();
    if (reserve(2 + taken->count)) {
        clear(base, base + length);
        for (size_t k = 0; k < taken->count && taken->list[k].start < length; k++) {
            md_mapping m = taken->list[k];
            m.end = base + (m.end < length ? m.end : length);
            m.start += base;
            insert_at(first_after(m.start), m);
        }
        merge_around(base, base + length);
    }
    unlock_table();
}

void md_mappings_release(md_mappings_taken *taken) {
    if (taken->mapped) md_unmap(taken->list, taken->mapped * sizeof *taken->list);
    taken->list = taken->local;
    taken->count = taken->mapped = 0;
}

void md_mappings_write(md_buffer *b, uint32_t stacks, md_totals *totals, md_written *w) {
    lock_table();
    size_t count_at = b->length;
    uint32_t written = 0;
    md_buffer_u32(b, 0);
    for (uint32_t id = 0; id < stacks; id++) {
        w->given[id] &= (uint8_t)~MD_LISTED_MAPPED;
        if (id >= counter_capacity) continue;
        const md_mapped *c = &counters[id];
        const int64_t now[4] = {c->live_bytes > 0 ? c->live_bytes : 0, c->live_count > 0 ? c->live_count : 0,
                                (int64_t)c->bytes, (int64_t)c->count};
        int64_t *last = &w->mapped[(size_t)id * 4];
        int holds = now[0] || now[1] || now[2] || now[3];
        int list = w->checkpoint ? holds : memcmp(now, last, sizeof now) != 0;
        memcpy(last, now, sizeof now);
        totals->mapped_live_bytes += (uint64_t)now[0];
        totals->mapped_live_count += (uint64_t)now[1];
        totals->mapped_bytes += c->bytes;
        totals->mapped_count += c->count;
        if (!list) continue;
        w->given[id] |= MD_LISTED_MAPPED;
        md_buffer_u32(b, id);
        md_buffer_u32(b, 0);
        md_buffer_u64(b, (uint64_t)now[0]);
        md_buffer_u64(b, (uint64_t)now[1]);
        md_buffer_u64(b, c->bytes);
        md_buffer_u64(b, c->count);
        written++;
    }
    if (!b->failed) memcpy(b->data + count_at, &written, sizeof written);
    unlock_table();
}

void md_mappings_lock_for_fork(void) { md_lock_acquire(&table_lock); }

void md_mappings_unlock_after_fork(int child) {
    if (child)
        md_lock_reset(&table_lock);
    else
        md_lock_release(&table_lock);
}

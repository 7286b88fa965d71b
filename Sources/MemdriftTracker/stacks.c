/*
 * Distinct call stacks and their counters.
 *
 * Stacks live in an append-only table (ids are dense, 0 is the empty stack) found
 * through a lock-free open-addressing index; only inserting a new stack takes a lock.
 * Counters are kept per thread (alloc/free bytes and counts per stack id), written
 * only by their owner, and summed by the snapshot writer: the hot path never writes a
 * cache line another thread writes. A thread's counters are folded into the stack's
 * `retired` totals when it exits.
 *
 * A stack's key is its native return addresses with, in a Python program, the source keys of the
 * Python frames each evaluation frame runs in front of it (python_frames.c): two allocations from
 * different Python lines are different stacks. The STACKS section gets the native frames, the
 * SOURCE SPLICES section where the source frames go among them.
 */
#include <pthread.h>
#include <string.h>

#include "tracker.h"

#define CHUNK_BITS 12
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS (MD_MAX_STACKS / CHUNK_SIZE)
#define ARENA_BYTES (1u << 20)

enum { ALLOC_BYTES, ALLOC_COUNT, FREE_BYTES, FREE_COUNT, COUNTERS };

typedef struct {
    uint64_t hash;
    uint32_t depth;             /* entries of the key */
    uint32_t natives;           /* native frames among them; the others are source frames */
    const uintptr_t *addresses; /* the key: raw return addresses and source keys, for lookup */
    const md_frame *frames;     /* module-relative and source frames, for the snapshot */
    _Atomic int64_t retired[COUNTERS];
} md_stack;

typedef struct {
    uint32_t mask;
    _Atomic uint32_t slots[]; /* stack id + 1, 0 = empty */
} md_index;

static md_stack *chunks[MAX_CHUNKS];
static _Atomic uint32_t stack_count;
static _Atomic(md_index *) current_index;
static md_lock insert_lock;
static unsigned char *arena;
static size_t arena_left;
static _Atomic uint64_t dropped;
static _Atomic int64_t retired_tag_bytes;

/* ---- per-thread counters ---- */

typedef struct {
    _Atomic uint32_t key; /* stack id + 1 */
    uint32_t unused;
    _Atomic int64_t value[COUNTERS];
} md_count;

typedef struct md_table {
    struct md_table *older; /* replaced tables stay mapped until the thread block is reused */
    uint32_t mask, used;
    md_count slots[];
} md_table;

typedef struct md_thread {
    struct md_thread *next;
    _Atomic(md_table *) table;
    _Atomic int64_t tag_bytes; /* tags of blocks this thread recorded minus those it freed */
    int in_use;
} md_thread;

#define RETIRED_THREAD ((md_thread *)1)

static md_lock registry_lock;
static md_thread *threads;
static uint64_t threads_seen;
static pthread_key_t thread_key;
static __thread md_thread *this_thread __attribute__((tls_model("initial-exec")));

static md_stack *stack_at(uint32_t id) { return &chunks[id >> CHUNK_BITS][id & (CHUNK_SIZE - 1)]; }

static size_t table_bytes(uint32_t capacity) { return sizeof(md_table) + (size_t)capacity * sizeof(md_count); }

static md_index *new_index(uint32_t capacity) {
    md_index *x = md_map(sizeof(md_index) + (size_t)capacity * sizeof(uint32_t));
    if (x) x->mask = capacity - 1;
    return x;
}

static void thread_exit(void *block) {
    md_thread_retire(block);
    md_captures_thread_exit();
    md_cfi_thread_exit();
    md_python_thread_exit();
}

int md_stacks_init(void) {
    md_index *x = new_index(4096);
    chunks[0] = md_map(sizeof(md_stack) * CHUNK_SIZE);
    if (!x || !chunks[0]) return -1;
    atomic_store(&current_index, x);
    atomic_store(&stack_count, 1); /* id 0: the empty stack */
    if (pthread_key_create(&thread_key, thread_exit) != 0) return -1;
    return 0;
}

uint32_t md_stacks_count(void) { return atomic_load_explicit(&stack_count, memory_order_acquire); }

static inline uint64_t rotate(uint64_t x, unsigned by) { return (x << by) | (x >> (64 - by)); }

/* Four independent lanes, so the multiplies overlap; mixed at the end so every address bit
 * reaches the low bits the index uses. */
static uint64_t hash_addresses(const uintptr_t *a, int n) {
    const uint64_t m = 0xFF51AFD7ED558CCDull;
    uint64_t h0 = 0x9E3779B97F4A7C15ull ^ (uint64_t)n, h1 = 0xC2B2AE3D27D4EB4Full, h2 = 0x165667B19E3779F9ull,
             h3 = 0x27D4EB2F165667C5ull;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        h0 = (h0 ^ a[i]) * m;
        h1 = (h1 ^ a[i + 1]) * m;
        h2 = (h2 ^ a[i + 2]) * m;
        h3 = (h3 ^ a[i + 3]) * m;
    }
    for (; i < n; i++)
        h0 = (h0 ^ a[i]) * m;
    uint64_t h = h0 ^ rotate(h1, 16) ^ rotate(h2, 32) ^ rotate(h3, 48);
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return h;
}

static int matches(const md_stack *s, uint64_t h, const uintptr_t *a, int n) {
    return s->hash == h && s->depth == (uint32_t)n && memcmp(s->addresses, a, (size_t)n * sizeof *a) == 0;
}

static int64_t find(const md_index *x, uint64_t h, const uintptr_t *a, int n) {
    for (uint32_t i = (uint32_t)h & x->mask;; i = (i + 1) & x->mask) {
        uint32_t v = atomic_load_explicit(&x->slots[i], memory_order_acquire);
        if (v == 0) return -1;
        if (matches(stack_at(v - 1), h, a, n)) return v - 1;
    }
}

static void place(md_index *x, uint64_t h, uint32_t id) {
    uint32_t i = (uint32_t)h & x->mask;
    while (atomic_load_explicit(&x->slots[i], memory_order_relaxed))
        i = (i + 1) & x->mask;
    atomic_store_explicit(&x->slots[i], id + 1, memory_order_release);
}

static void *arena_take(size_t bytes) {
    size_t rounded = (bytes + 7) & ~(size_t)7;
    if (rounded > arena_left) {
        size_t size = rounded > ARENA_BYTES ? rounded : ARENA_BYTES;
        arena = md_map(size);
        arena_left = arena ? size : 0;
        if (!arena) return NULL;
    }
    void *p = arena;
    arena += rounded;
    arena_left -= rounded;
    return p;
}

/* Caller holds insert_lock. Returns the new id or MD_UNKNOWN_STACK when full. */
static uint32_t insert(uint64_t h, const uintptr_t *a, int n, const md_frame *frames) {
    uint32_t id = atomic_load_explicit(&stack_count, memory_order_relaxed);
    md_index *x = atomic_load_explicit(&current_index, memory_order_relaxed);
    if (id >= MD_MAX_STACKS - 1) return MD_UNKNOWN_STACK;
    if (!chunks[id >> CHUNK_BITS]) {
        chunks[id >> CHUNK_BITS] = md_map(sizeof(md_stack) * CHUNK_SIZE);
        if (!chunks[id >> CHUNK_BITS]) return MD_UNKNOWN_STACK;
    }
    if ((uint64_t)(id + 1) * 2 > (uint64_t)x->mask + 1) {
        /* Grow: readers still on the old index keep a consistent view, so it stays mapped. */
        md_index *bigger = new_index((x->mask + 1) * 2);
        if (!bigger) return MD_UNKNOWN_STACK;
        for (uint32_t i = 1; i < id; i++)
            place(bigger, stack_at(i)->hash, i);
        atomic_store_explicit(&current_index, bigger, memory_order_release);
        x = bigger;
    }
    uintptr_t *addresses = arena_take((size_t)n * sizeof *addresses);
    md_frame *copy = arena_take((size_t)n * sizeof *copy);
    if (n && (!addresses || !copy)) return MD_UNKNOWN_STACK;
    memcpy(addresses, a, (size_t)n * sizeof *a);
    memcpy(copy, frames, (size_t)n * sizeof *frames);
    md_stack *s = stack_at(id);
    s->hash = h;
    s->depth = (uint32_t)n;
    s->natives = 0;
    for (int i = 0; i < n; i++)
        s->natives += !md_is_source_key(a[i]);
    s->addresses = addresses;
    s->frames = copy;
    atomic_store_explicit(&stack_count, id + 1, memory_order_release);
    place(x, h, id);
    return id;
}

/* Lock-free when the stack is known; allocation-free. */
uint32_t md_stacks_intern(const uintptr_t *a, int n) {
    if (n <= 0) return MD_UNKNOWN_STACK;
    uint64_t h = hash_addresses(a, n);
    int64_t found = find(atomic_load_explicit(&current_index, memory_order_acquire), h, a, n);
    if (found >= 0) return (uint32_t)found;

    md_frame frames[MD_MAX_KEY];
    md_modules_resolve(a, n, frames);
    md_lock_acquire(&insert_lock);
    found = find(atomic_load_explicit(&current_index, memory_order_relaxed), h, a, n);
    uint32_t id = found >= 0 ? (uint32_t)found : insert(h, a, n, frames);
    md_lock_release(&insert_lock);
    if (id == MD_UNKNOWN_STACK) atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    return id;
}

/* ---- per-thread counters ---- */

static md_table *new_table(uint32_t capacity) {
    md_table *t = md_map(table_bytes(capacity));
    if (t) t->mask = capacity - 1;
    return t;
}

static md_thread *acquire_thread(void) {
    md_lock_acquire(&registry_lock);
    md_thread *t = threads;
    while (t && t->in_use)
        t = t->next;
    if (!t) {
        t = md_map(sizeof *t);
        if (t) {
            atomic_store_explicit(&t->table, new_table(64), memory_order_release);
            if (!atomic_load_explicit(&t->table, memory_order_relaxed)) {
                md_unmap(t, sizeof *t);
                t = NULL;
            } else {
                t->next = threads;
                threads = t;
            }
        }
    }
    if (t) {
        t->in_use = 1;
        threads_seen++;
    }
    md_lock_release(&registry_lock);
    return t;
}

static md_count *slot_for(md_table **tp, uint32_t key) {
    md_table *t = *tp;
    for (uint32_t i = (key * 0x9E3779B1u) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t k = atomic_load_explicit(&t->slots[i].key, memory_order_relaxed);
        if (k == key) return &t->slots[i];
        if (k == 0) break;
    }
    if ((t->used + 1) * 2 > t->mask + 1) {
        md_table *bigger = new_table((t->mask + 1) * 2);
        if (!bigger) return NULL;
        for (uint32_t i = 0; i <= t->mask; i++) {
            uint32_t k = atomic_load_explicit(&t->slots[i].key, memory_order_relaxed);
            if (!k) continue;
            uint32_t j = (k * 0x9E3779B1u) & bigger->mask;
            while (atomic_load_explicit(&bigger->slots[j].key, memory_order_relaxed))
                j = (j + 1) & bigger->mask;
            for (int c = 0; c < COUNTERS; c++)
                atomic_store_explicit(&bigger->slots[j].value[c],
                                      atomic_load_explicit(&t->slots[i].value[c], memory_order_relaxed),
                                      memory_order_relaxed);
            atomic_store_explicit(&bigger->slots[j].key, k, memory_order_relaxed);
        }
        bigger->used = t->used;
        bigger->older = t;
        *tp = t = bigger;
    }
    uint32_t i = (key * 0x9E3779B1u) & t->mask;
    while (atomic_load_explicit(&t->slots[i].key, memory_order_relaxed))
        i = (i + 1) & t->mask;
    t->used++;
    atomic_store_explicit(&t->slots[i].key, key, memory_order_release);
    return &t->slots[i];
}

static void add(uint32_t stack, int which, uint64_t bytes, uint64_t count, int64_t tag_bytes) {
    md_thread *t = this_thread;
    if (MD_UNLIKELY(!t)) {
        t = acquire_thread();
        this_thread = t ? t : RETIRED_THREAD;
        if (t) pthread_setspecific(thread_key, t);
    }
    if (t != RETIRED_THREAD) {
        md_table *table = atomic_load_explicit(&t->table, memory_order_relaxed);
        md_table *before = table;
        md_count *c = slot_for(&table, stack + 1);
        if (table != before) atomic_store_explicit(&t->table, table, memory_order_release);
        atomic_store_explicit(&t->tag_bytes, atomic_load_explicit(&t->tag_bytes, memory_order_relaxed) + tag_bytes,
                              memory_order_relaxed);
        if (c) {
            /* Single writer: plain read-modify-write, atomic only so the reader never tears. */
            atomic_store_explicit(&c->value[which],
                                  atomic_load_explicit(&c->value[which], memory_order_relaxed) + (int64_t)bytes,
                                  memory_order_relaxed);
            atomic_store_explicit(&c->value[which + 1],
                                  atomic_load_explicit(&c->value[which + 1], memory_order_relaxed) + (int64_t)count,
                                  memory_order_relaxed);
            return;
        }
    }
    /* After the thread's exit handler ran, or when its table could not grow. */
    if (t == RETIRED_THREAD) atomic_fetch_add_explicit(&retired_tag_bytes, tag_bytes, memory_order_relaxed);
    md_stack *s = stack_at(stack);
    atomic_fetch_add_explicit(&s->retired[which], (int64_t)bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->retired[which + 1], (int64_t)count, memory_order_relaxed);
}

void md_count_alloc(uint32_t stack, uint64_t bytes, uint64_t count, uint64_t tag_bytes) {
    add(stack, ALLOC_BYTES, bytes, count, (int64_t)tag_bytes);
}

void md_count_free(uint32_t stack, uint64_t bytes, uint64_t count, uint64_t tag_bytes) {
    add(stack, FREE_BYTES, bytes, count, -(int64_t)tag_bytes);
}

/* Caller holds registry_lock: moves a block's counts into the shared totals and frees it. */
static void fold(md_thread *t) {
    md_table *table = atomic_load_explicit(&t->table, memory_order_relaxed);
    uint32_t count = md_stacks_count();
    for (uint32_t i = 0; i <= table->mask; i++) {
        uint32_t k = atomic_load_explicit(&table->slots[i].key, memory_order_relaxed);
        if (!k || k - 1 >= count) continue;
        md_stack *s = stack_at(k - 1);
        for (int c = 0; c < COUNTERS; c++)
            atomic_fetch_add_explicit(&s->retired[c],
                                      atomic_load_explicit(&table->slots[i].value[c], memory_order_relaxed),
                                      memory_order_relaxed);
    }
    for (md_table *old = table->older; old;) {
        md_table *next = old->older;
        md_unmap(old, table_bytes(old->mask + 1));
        old = next;
    }
    table->older = NULL;
    memset(table->slots, 0, sizeof(md_count) * ((size_t)table->mask + 1));
    table->used = 0;
    atomic_fetch_add_explicit(&retired_tag_bytes, atomic_exchange_explicit(&t->tag_bytes, 0, memory_order_relaxed),
                              memory_order_relaxed);
    t->in_use = 0;
}

void md_thread_retire(void *block) {
    int guard = md_guard_enter();
    md_lock_acquire(&registry_lock);
    fold(block);
    md_lock_release(&registry_lock);
    this_thread = RETIRED_THREAD;
    md_guard_leave(guard);
}

/* One run of source frames and the native frames it stands for: an evaluation frame, and the
 * frame outside every module that called it when there is one (CPython's perf trampoline, which
 * the Python frames already name). */
static void write_splice(md_buffer *b, const md_stack *s, uint32_t at, uint32_t native) {
    uint32_t run = at;
    while (run < s->depth && MD_FRAME_MODULE(s->frames[run]) == MD_FRAME_SOURCE)
        run++;
    uint16_t replaced = 0;
    if (run < s->depth) {
        replaced = 1;
        if (run + 1 < s->depth && MD_FRAME_MODULE(s->frames[run + 1]) == MD_FRAME_NO_MODULE) replaced = 2;
    }
    md_buffer_u16(b, (uint16_t)native);
    md_buffer_u16(b, replaced);
    md_buffer_u32(b, run - at);
    for (uint32_t f = at; f < run; f++)
        md_buffer_u32(b, (uint32_t)MD_FRAME_OFFSET(s->frames[f]));
}

/* A stack's entry of the SOURCE SPLICES section: where its source frames go among its natives. */
static void write_splices(md_buffer *b, uint32_t id, const md_stack *s, uint32_t *count) {
    uint32_t splices = 0;
    for (uint32_t f = 0; f < s->depth; f++)
        splices += MD_FRAME_MODULE(s->frames[f]) == MD_FRAME_SOURCE &&
                   (f == 0 || MD_FRAME_MODULE(s->frames[f - 1]) != MD_FRAME_SOURCE);
    md_buffer_u32(b, id);
    md_buffer_u32(b, splices);
    uint32_t native = 0;
    for (uint32_t f = 0; f < s->depth; f++) {
        if (MD_FRAME_MODULE(s->frames[f]) != MD_FRAME_SOURCE)
            native++;
        else if (f == 0 || MD_FRAME_MODULE(s->frames[f - 1]) != MD_FRAME_SOURCE)
            write_splice(b, s, f, native);
    }
    (*count)++;
}

/* How many native frames, from the root, `s` shares with `previous` (NULL: none). */
static uint32_t shared_roots(const md_stack *s, const md_stack *previous) {
    if (!previous) return 0;
    uint32_t shared = 0;
    int64_t i = (int64_t)s->depth - 1, j = (int64_t)previous->depth - 1;
    for (;; i--, j--, shared++) {
        while (i >= 0 && MD_FRAME_MODULE(s->frames[i]) == MD_FRAME_SOURCE)
            i--;
        while (j >= 0 && MD_FRAME_MODULE(previous->frames[j]) == MD_FRAME_SOURCE)
            j--;
        if (i < 0 || j < 0 || s->frames[i] != previous->frames[j]) return shared;
    }
}

/* The native frames of `s` that it does not share with `previous`, leaf first: the shared count,
 * then per frame the module index + 1 (0: no module) and the offset. */
static void write_frames(md_buffer *b, const md_stack *s, const md_stack *previous) {
    uint32_t shared = shared_roots(s, previous);
    md_buffer_uvarint(b, shared);
    uint32_t left = s->natives - shared;
    for (uint32_t f = 0; left && f < s->depth; f++) {
        uint32_t module = MD_FRAME_MODULE(s->frames[f]);
        if (module == MD_FRAME_SOURCE) continue;
        md_buffer_uvarint(b, module == MD_FRAME_NO_MODULE ? 0 : (uint64_t)module + 1);
        md_buffer_uvarint(b, MD_FRAME_OFFSET(s->frames[f]));
        left--;
    }
}

void md_stacks_write(md_buffer *b, md_buffer *splices, md_totals *totals, md_written *w, uint32_t count) {
    static int64_t *sums;
    static size_t sums_bytes;
    size_t need = (size_t)count * COUNTERS * sizeof(int64_t);
    if (need > sums_bytes) {
        md_unmap(sums, sums_bytes);
        sums_bytes = need * 2;
        sums = md_map(sums_bytes);
        if (!sums) {
            sums_bytes = 0;
            b->failed = 1;
            return;
        }
    }
    md_lock_acquire(&registry_lock);
    for (uint32_t id = 0; id < count; id++)
        for (int c = 0; c < COUNTERS; c++)
            sums[id * COUNTERS + c] = atomic_load_explicit(&stack_at(id)->retired[c], memory_order_relaxed);
    int64_t tag_bytes = atomic_load_explicit(&retired_tag_bytes, memory_order_relaxed);
    for (md_thread *t = threads; t; t = t->next) {
        if (!t->in_use) continue;
        tag_bytes += atomic_load_explicit(&t->tag_bytes, memory_order_relaxed);
        md_table *table = atomic_load_explicit(&t->table, memory_order_acquire);
        for (uint32_t i = 0; i <= table->mask; i++) {
            uint32_t k = atomic_load_explicit(&table->slots[i].key, memory_order_acquire);
            if (!k || k - 1 >= count) continue;
            for (int c = 0; c < COUNTERS; c++)
                sums[(k - 1) * COUNTERS + c] += atomic_load_explicit(&table->slots[i].value[c], memory_order_relaxed);
        }
    }
    totals->threads = threads_seen;
    totals->tag_bytes = tag_bytes > 0 ? (uint64_t)tag_bytes : 0;
    md_lock_release(&registry_lock);

    totals->stacks = count;
    totals->dropped = atomic_load_explicit(&dropped, memory_order_relaxed);
    size_t count_at = b->length, spliced_at = splices->length;
    uint32_t listed = 0, spliced = 0, last_listed = 0;
    const md_stack *last_framed = NULL; /* the last stack listed with its frames, which the next may share */
    w->defined_bytes = 0;
    md_buffer_u32(b, 0);
    md_buffer_u32(splices, 0);
    for (uint32_t id = 0; id < count; id++) {
        const int64_t *v = &sums[id * COUNTERS];
        /* Counters of different threads are read at slightly different moments. */
        int64_t live_bytes = v[ALLOC_BYTES] - v[FREE_BYTES], live_count = v[ALLOC_COUNT] - v[FREE_COUNT];
        if (live_bytes < 0) live_bytes = 0;
        if (live_count < 0) live_count = 0;
        totals->live_bytes += (uint64_t)live_bytes;
        totals->live_count += (uint64_t)live_count;
        totals->alloc_bytes += (uint64_t)v[ALLOC_BYTES];
        totals->alloc_count += (uint64_t)v[ALLOC_COUNT];
        totals->free_bytes += (uint64_t)v[FREE_BYTES];
        totals->free_count += (uint64_t)v[FREE_COUNT];
        const int64_t now[4] = {live_bytes, live_count, v[ALLOC_BYTES], v[ALLOC_COUNT]};
        int64_t *last = &w->heap[(size_t)id * 4];
        uint8_t *given = &w->given[id];
        int changed = memcmp(now, last, sizeof now) != 0;
        int holds = now[0] || now[1] || now[2] || now[3];
        /* Mapped memory refers to its stack: a checkpoint lists it, a delta gives its frames once. */
        int mapped = *given & MD_LISTED_MAPPED;
        int list = w->checkpoint ? holds || mapped : changed || (mapped && !(*given & MD_GIVEN_FRAMES));
        if (w->checkpoint) *given &= (uint8_t)~MD_GIVEN_FRAMES;
        memcpy(last, now, sizeof now);
        if (!list) continue;
        int frames = !(*given & MD_GIVEN_FRAMES);
        *given |= MD_GIVEN_FRAMES;
        const md_stack *s = stack_at(id);
        size_t at = b->length;
        md_buffer_uvarint(b, listed ? id - last_listed - 1 : id);
        md_buffer_uvarint(b, frames ? (uint64_t)s->natives << 1 : MEMDRIFT_STACK_FRAMES_GIVEN);
        for (int c = 0; c < 4; c++)
            md_buffer_uvarint(b, (uint64_t)now[c]);
        if (frames && s->natives) {
            write_frames(b, s, last_framed);
            last_framed = s;
        }
        size_t spliced_from = splices->length;
        if (frames && s->natives != s->depth) write_splices(splices, id, s, &spliced);
        if (frames) w->defined_bytes += b->length - at + splices->length - spliced_from;
        listed++;
        last_listed = id;
    }
    if (!b->failed) memcpy(b->data + count_at, &listed, sizeof listed);
    if (!splices->failed) memcpy(splices->data + spliced_at, &spliced, sizeof spliced);
}

void md_stacks_lock_for_fork(void) {
    md_lock_acquire(&registry_lock);
    md_lock_acquire(&insert_lock);
}

void md_stacks_unlock_after_fork(int child) {
    if (!child) {
        md_lock_release(&insert_lock);
        md_lock_release(&registry_lock);
        return;
    }
    md_lock_reset(&insert_lock);
    /* Only the forking thread exists in the child: fold the others' counts. */
    for (md_thread *t = threads; t; t = t->next)
        if (t->in_use && t != this_thread) fold(t);
    threads_seen = this_thread && this_thread != RETIRED_THREAD ? 1 : 0;
    md_lock_reset(&registry_lock);
}

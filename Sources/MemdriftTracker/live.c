/*
 * Live allocations: pointer -> (size, stack), so a free credits the stack that
 * allocated. Sharded by pointer hash; each shard is an open-addressing table with
 * backward-shift deletion under its own lock, so two threads rarely meet.
 */
#include <string.h>

#include "tracker.h"

#define SHARD_BITS 6
#define SHARDS (1u << SHARD_BITS)
#define INITIAL_CAPACITY 1024u
#define SIZE_BITS 40
#define MAX_SIZE ((1ull << SIZE_BITS) - 1)

typedef struct {
    uintptr_t pointer; /* 0 = empty */
    uint64_t meta;     /* size in the low 40 bits, stack id in the high 24 */
} md_entry;

typedef struct {
    md_lock lock;
    md_entry *slots;
    size_t mask, used;
} __attribute__((aligned(64))) md_shard;

static md_shard shards[SHARDS];

static uint64_t mix(uintptr_t p) {
    uint64_t h = (uint64_t)p;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    return h;
}

int md_live_init(void) {
    for (unsigned i = 0; i < SHARDS; i++) {
        shards[i].slots = md_map(sizeof(md_entry) * INITIAL_CAPACITY);
        if (!shards[i].slots) return -1;
        shards[i].mask = INITIAL_CAPACITY - 1;
    }
    return 0;
}

static void put(md_entry *slots, size_t mask, uintptr_t p, uint64_t meta) {
    size_t i = (mix(p) >> SHARD_BITS) & mask;
    while (slots[i].pointer)
        i = (i + 1) & mask;
    slots[i].pointer = p;
    slots[i].meta = meta;
}

/* Caller holds the shard lock. Returns 0 when the table could not grow. */
static int grow(md_shard *s) {
    size_t capacity = (s->mask + 1) * 2;
    md_entry *bigger = md_map(sizeof(md_entry) * capacity);
    if (!bigger) return 0;
    for (size_t i = 0; i <= s->mask; i++)
        if (s->slots[i].pointer) put(bigger, capacity - 1, s->slots[i].pointer, s->slots[i].meta);
    md_unmap(s->slots, sizeof(md_entry) * (s->mask + 1));
    s->slots = bigger;
    s->mask = capacity - 1;
    return 1;
}

/* Allocation-free; takes one shard lock. */
int md_live_insert(uintptr_t p, uint64_t size, uint32_t stack, uint32_t *old_stack, uint64_t *old_size) {
    uint64_t h = mix(p);
    md_shard *s = &shards[h & (SHARDS - 1)];
    uint64_t meta = ((uint64_t)stack << SIZE_BITS) | (size > MAX_SIZE ? MAX_SIZE : size);
    int replaced = 0;
    md_lock_acquire(&s->lock);
    if ((s->used + 1) * 3 > (s->mask + 1) * 2 && !grow(s)) {
        md_lock_release(&s->lock);
        md_fail("cannot grow the live-allocation table", 12 /* ENOMEM */);
        return 0;
    }
    size_t i = (h >> SHARD_BITS) & s->mask;
    while (s->slots[i].pointer && s->slots[i].pointer != p)
        i = (i + 1) & s->mask;
    if (s->slots[i].pointer == p) {
        *old_stack = (uint32_t)(s->slots[i].meta >> SIZE_BITS);
        *old_size = s->slots[i].meta & MAX_SIZE;
        replaced = 1;
    } else {
        /* Atomic store (under the lock) because md_live_entries reads it without the lock. */
        __atomic_store_n(&s->used, s->used + 1, __ATOMIC_RELAXED);
    }
    s->slots[i].pointer = p;
    s->slots[i].meta = meta;
    md_lock_release(&s->lock);
    return replaced;
}

/* Allocation-free; takes one shard lock. */
int md_live_remove(uintptr_t p, uint32_t *stack, uint64_t *size) {
    uint64_t h = mix(p);
    md_shard *s = &shards[h & (SHARDS - 1)];
    md_lock_acquire(&s->lock);
    size_t i = (h >> SHARD_BITS) & s->mask;
    while (s->slots[i].pointer && s->slots[i].pointer != p)
        i = (i + 1) & s->mask;
    if (!s->slots[i].pointer) {
        md_lock_release(&s->lock);
        return 0;
    }
    *stack = (uint32_t)(s->slots[i].meta >> SIZE_BITS);
    *size = s->slots[i].meta & MAX_SIZE;
    /* Backward-shift deletion keeps probe chains intact without tombstones. */
    size_t hole = i;
    for (size_t j = (i + 1) & s->mask; s->slots[j].pointer; j = (j + 1) & s->mask) {
        size_t home = (mix(s->slots[j].pointer) >> SHARD_BITS) & s->mask;
        if (((j - home) & s->mask) >= ((j - hole) & s->mask)) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].pointer = 0;
    __atomic_store_n(&s->used, s->used - 1, __ATOMIC_RELAXED);
    md_lock_release(&s->lock);
    return 1;
}

/* Lock-free and approximate while other threads insert: each shard's count is read atomically. */
uint64_t md_live_entries(void) {
    uint64_t n = 0;
    for (unsigned i = 0; i < SHARDS; i++)
        n += __atomic_load_n(&shards[i].used, __ATOMIC_RELAXED);
    return n;
}

void md_live_lock_for_fork(void) {
    for (unsigned i = 0; i < SHARDS; i++)
        md_lock_acquire(&shards[i].lock);
}

void md_live_unlock_after_fork(int child) {
    for (unsigned i = 0; i < SHARDS; i++) {
        if (child)
            md_lock_reset(&shards[i].lock);
        else
            md_lock_release(&shards[i].lock);
    }
}

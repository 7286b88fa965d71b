/*
 * Each thread's cache of rules, by return address: one 16-byte rule per address, in an
 * open-addressing table (mapped on first use, doubled up to MAX_SLOTS, emptied when full
 * beyond that) and a direct-mapped table by stack position (see cfi_walk.c). Rules that
 * cannot be followed are kept too, so a frame the walk declines costs one search, not one per
 * capture. A flush (dlclose) bumps a generation; each thread empties its tables before its
 * next walk. Only the owning thread touches its tables.
 */
#include <string.h>

#include "cfi.h"

#define MIN_SLOTS 1024u  /* 16 KiB: most programs' hot return addresses fit */
#define MAX_SLOTS 65536u /* 1 MiB: beyond this a thread refills its table instead */

__thread md_cfi_thread md_cfi_self __attribute__((tls_model("initial-exec")));
_Atomic uint32_t md_cfi_generation;

static const md_rule *insert(md_cfi_thread *t, md_rule rule) {
    size_t mask = mask_of(t->capacity), at = slot_of(rule.ip, mask);
    while (slot_at(t->slots, at)->ip)
        at = (at + sizeof(md_rule)) & mask;
    *slot_at(t->slots, at) = rule;
    t->used++;
    return slot_at(t->slots, at);
}

static void forget_all(md_cfi_thread *t) {
    memset(t->near, 0, NEAR_SLOTS * sizeof(md_rule));
    memset(t->slots, 0, (size_t)t->capacity * sizeof(md_rule));
    t->used = 0;
}

/* Doubles the table; 0 when it is at its cap or memory is short. */
static int grow(md_cfi_thread *t) {
    if (t->capacity >= MAX_SLOTS) return 0;
    md_rule *old = t->slots;
    uint32_t old_capacity = t->capacity;
    md_rule *slots = md_map((size_t)old_capacity * 2 * sizeof(md_rule));
    if (!slots) return 0;
    t->slots = slots;
    t->capacity = old_capacity * 2;
    t->used = 0;
    for (uint32_t i = 0; i < old_capacity; i++)
        if (old[i].ip) insert(t, old[i]);
    md_unmap(old, (size_t)old_capacity * sizeof(md_rule));
    return 1;
}

/* A cache miss: derives the rule from .eh_frame and keeps it, unsupported ones included,
 * so a frame we cannot handle costs one search, not one per capture. The table may move. */
__attribute__((noinline)) const md_rule *md_cfi_learn(md_cfi_thread *t, uintptr_t ip) {
    md_rule rule = md_cfi_rule_from_eh_frame(ip);
    if ((t->used + 1) * 2 > t->capacity && !grow(t)) forget_all(t);
    return insert(t, rule);
}

int md_cfi_renew(md_cfi_thread *t, uint32_t now) {
    if (!t->slots) {
        if (!t->near) t->near = md_map(NEAR_SLOTS * sizeof(md_rule));
        t->slots = t->near ? md_map(MIN_SLOTS * sizeof(md_rule)) : NULL;
        if (!t->slots) return WHY_NOT_READY;
        t->capacity = MIN_SLOTS;
        t->used = 0;
    } else {
        forget_all(t);
    }
    if (t->memo) t->memo->anchors = 0; /* its rules may have changed */
    t->generation = now;
    return 0;
}

/* Async-signal-safe, allocation-free, lock-free. */
void md_cfi_flush(void) { atomic_fetch_add_explicit(&md_cfi_generation, 1, memory_order_relaxed); }

/* Allocation-free. Not for a signal handler that may interrupt a capture on this thread. */
void md_cfi_thread_exit(void) {
    md_cfi_thread *t = &md_cfi_self;
    t->retired = 1;
    if (t->slots) md_unmap(t->slots, (size_t)t->capacity * sizeof(md_rule));
    if (t->near) md_unmap(t->near, NEAR_SLOTS * sizeof(md_rule));
    if (t->memo) md_unmap(t->memo, sizeof *t->memo);
    t->slots = t->near = NULL;
    t->memo = NULL;
}

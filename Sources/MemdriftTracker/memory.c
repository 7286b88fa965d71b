/* mmap-backed memory, locks and buffers: the tracker never calls malloc, and maps its memory
 * past its own mmap hook (md_real_mmap), so it never counts as the program's. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracker.h"

static _Atomic uint64_t mapped_bytes;

static size_t page_round(size_t bytes) {
    size_t page = 4096;
    return (bytes + page - 1) & ~(page - 1);
}

/* Thread-safe, allocation-free, async-signal-safe. */
void *md_map(size_t bytes) {
    size_t size = page_round(bytes);
    void *p = md_real_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    atomic_fetch_add_explicit(&mapped_bytes, size, memory_order_relaxed);
    return p;
}

void md_unmap(void *p, size_t bytes) {
    if (!p) return;
    size_t size = page_round(bytes);
    md_real_munmap(p, size);
    atomic_fetch_sub_explicit(&mapped_bytes, size, memory_order_relaxed);
}

uint64_t md_mapped_bytes(void) { return atomic_load_explicit(&mapped_bytes, memory_order_relaxed); }

/* Spins briefly, then yields: holders never block inside the lock. */
void md_lock_acquire(md_lock *l) {
    for (;;) {
        if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire)) return;
        for (int spins = 0; atomic_load_explicit(&l->held, memory_order_relaxed); spins++) {
            if (spins < 64)
                __builtin_ia32_pause();
            else
                sched_yield();
        }
    }
}

void md_lock_release(md_lock *l) { atomic_store_explicit(&l->held, 0, memory_order_release); }

void md_lock_reset(md_lock *l) { atomic_store_explicit(&l->held, 0, memory_order_relaxed); }

unsigned char *md_buffer_reserve(md_buffer *b, size_t n) {
    if (b->failed) return NULL;
    if (b->length + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 65536;
        while (capacity < b->length + n)
            capacity *= 2;
        void *p;
        if (b->data)
            p = md_real_mremap(b->data, page_round(b->capacity), page_round(capacity), MREMAP_MAYMOVE, NULL);
        else
            p = md_real_mmap(NULL, page_round(capacity), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            b->failed = 1;
            return NULL;
        }
        atomic_fetch_add_explicit(&mapped_bytes, page_round(capacity) - page_round(b->capacity), memory_order_relaxed);
        b->data = p;
        b->capacity = capacity;
    }
    return b->data + b->length;
}

void md_buffer_append(md_buffer *b, const void *bytes, size_t n) {
    unsigned char *p = md_buffer_reserve(b, n);
    if (!p) return;
    memcpy(p, bytes, n);
    b->length += n;
}

/* The format is little-endian, as is every platform the tracker builds for. */
void md_buffer_u16(md_buffer *b, uint16_t v) { md_buffer_append(b, &v, sizeof v); }
void md_buffer_u32(md_buffer *b, uint32_t v) { md_buffer_append(b, &v, sizeof v); }
void md_buffer_u64(md_buffer *b, uint64_t v) { md_buffer_append(b, &v, sizeof v); }

void md_buffer_uvarint(md_buffer *b, uint64_t v) {
    unsigned char bytes[10];
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        bytes[n++] = (unsigned char)(v | 0x80);
    bytes[n++] = (unsigned char)v;
    md_buffer_append(b, bytes, n);
}

/* swiftc links the Swift runtime into every product; --as-needed drops it again,
 * so a traced process gains no Swift libraries and no toolchain RUNPATH. */
__attribute__((section(".swift1_autolink_entries"), used)) static const char as_needed[] = "-Wl,--as-needed";

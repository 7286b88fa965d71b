/*
 * Stack capture: cfi.c's cached walk of .eh_frame first, libunwind when it declines (signal
 * frames, code without unwind tables); the tracker's and libunwind's own frames are dropped
 * by module. The fallback steps with unw_step rather than unw_backtrace: libunwind 1.6's
 * fast-trace cache is never invalidated, so after a dlclose and a dlopen at the same
 * address it returns stacks of the old library; unw_step's caches obey unw_flush_cache.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>

#include "tracker.h"

typedef struct {
    uintptr_t probe;
    uintptr_t start, end;
} md_range;

static md_range self_range, unwinder_range;

static int find_range(struct dl_phdr_info *info, size_t size, void *context) {
    (void)size;
    md_range *r = context;
    uintptr_t start = UINTPTR_MAX, end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < start) start = lo;
        if (hi > end) end = hi;
    }
    if (r->probe >= start && r->probe < end) {
        r->start = start;
        r->end = end;
        return 1;
    }
    return 0;
}

void md_unwind_init(void) {
    /* The default global cache takes a lock on every step; a per-thread one needs none. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    self_range.probe = (uintptr_t)&md_unwind_init;
    dl_iterate_phdr(find_range, &self_range);
    unwinder_range.probe = (uintptr_t)&unw_backtrace;
    dl_iterate_phdr(find_range, &unwinder_range);
}

static int is_own(uintptr_t a) {
    return (a >= self_range.start && a < self_range.end) || (a >= unwinder_range.start && a < unwinder_range.end);
}

/* Return addresses from libunwind, starting in the caller like md_cfi_backtrace. */
static int step_backtrace(uintptr_t *out, int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return 0;
    int n = 0;
    while (n < max && unw_step(&cursor) > 0) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        out[n++] = (uintptr_t)ip;
    }
    return n;
}

/* Allocation-free apart from cfi.c's first walk on a thread (see cfi.c); libunwind's local
 * unwinding does not call malloc. */
int md_unwind_capture(uintptr_t *out, int max) {
    enum { OWN_FRAMES = 8 }; /* more than the tracker's frames above the allocator's caller */
    uintptr_t frames[MD_MAX_DEPTH + OWN_FRAMES];
    int want = max + OWN_FRAMES;
    int n = md_cfi_backtrace(frames, want);
    if (n < 0) n = step_backtrace(frames, want);
    int skip = 0;
    while (skip < n && is_own(frames[skip]))
        skip++;
    int kept = 0;
    for (int i = skip; i < n && kept < max; i++)
        out[kept++] = frames[i];
    return kept;
}

void md_unwind_forget_modules(void) {
    md_cfi_flush();
    unw_flush_cache(unw_local_addr_space, 0, 0);
}

/* Stack capture with libunwind, dropping the tracker's and libunwind's own frames by module. */
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

/* Allocation-free (unw_backtrace does not call malloc). */
int md_unwind_capture(uintptr_t *out, int max) {
    void *frames[MD_MAX_DEPTH + 16];
    int want = max + 16;
    if (want > MD_MAX_DEPTH + 16) want = MD_MAX_DEPTH + 16;
    int n = unw_backtrace(frames, want);
    int skip = 0;
    while (skip < n && is_own((uintptr_t)frames[skip]))
        skip++;
    int kept = 0;
    for (int i = skip; i < n && kept < max; i++)
        out[kept++] = (uintptr_t)frames[i];
    return kept;
}

/*
 * Stack capture: cfi_walk.c's cached walk of .eh_frame first, libunwind when it declines (signal
 * frames, code without unwind tables); the tracker's and libunwind's own frames are dropped
 * by module. The fallback steps with unw_step rather than unw_backtrace: libunwind 1.6's
 * fast-trace cache is never invalidated, so after a dlclose and a dlopen at the same
 * address it returns stacks of the old library; unw_step's caches obey unw_flush_cache.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <string.h>

#include "tracker.h"

md_object md_unwind_tracker;
static md_object unwinder;

void md_unwind_init(void) {
    /* The default global cache takes a lock on every step; a per-thread one needs none. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    md_object_at((uintptr_t)&md_unwind_init, &md_unwind_tracker);
    md_object_at((uintptr_t)&unw_backtrace, &unwinder);
}

static int is_own(uintptr_t a) {
    return (a >= md_unwind_tracker.start && a < md_unwind_tracker.end) || (a >= unwinder.start && a < unwinder.end);
}

/* Follows the frame-pointer chain from `fp`: JIT code (V8, BEAM with +JPperf, CPython's perf
 * trampolines) has no unwind tables but keeps rbp. Every read stays inside the thread's stack,
 * aligned, and each frame must lie above the last, so a chain that is not one ends the walk. */
static int frame_pointer_walk(uintptr_t fp, uintptr_t *out, int max) {
    uintptr_t lo, hi;
    if (!md_cfi_stack_bounds(&lo, &hi)) return 0;
    int n = 0;
    while (n < max && fp >= lo && fp <= hi - 16 && !(fp & 7)) {
        const uintptr_t *frame = (const uintptr_t *)fp;
        if (frame[1] < 4096) break;
        out[n++] = frame[1];
        if (frame[0] <= fp) break;
        fp = frame[0];
    }
    return n;
}

/* Return addresses from libunwind, starting in the caller like md_cfi_backtrace. Where it stops
 * at code that no module holds (JIT code) the frame-pointer chain takes over. */
static int step_backtrace(uintptr_t *out, int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return 0;
    int n = 0, stepped;
    while (n < max && (stepped = unw_step(&cursor)) > 0) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) return n;
        out[n++] = (uintptr_t)ip;
    }
    unw_word_t rbp;
    md_object object;
    if (n > 0 && n < max && stepped <= 0 && !md_object_at(out[n - 1], &object) &&
        unw_get_reg(&cursor, UNW_X86_64_RBP, &rbp) == 0)
        n += frame_pointer_walk((uintptr_t)rbp, out + n, max - n);
    return n;
}

/* libunwind's walk, for when the tracker's declines. It starts in the tracker, inside libunwind:
 * its frames and the tracker's go. */
static __attribute__((noinline)) int fall_back(uintptr_t *out, int max, int *plain) {
    int n = step_backtrace(out, max + MD_UNWIND_SLACK);
    int skip = 0;
    while (skip < n && is_own(out[skip]))
        skip++;
    int kept = n - skip < max ? n - skip : max;
    if (skip) memmove(out, out + skip, (size_t)kept * sizeof *out);
    *plain = kept;
    return kept;
}

/* Allocation-free apart from the first walk on a thread (see cfi_walk.c); libunwind's local
 * unwinding does not call malloc. `out` has room for MD_UNWIND_SLACK entries beyond `max`. */
int md_unwind_capture(uintptr_t *out, int max, int *plain) {
    int n = md_cfi_backtrace_outside(md_unwind_tracker.start, md_unwind_tracker.end, out, max,
                                     plain); /* starts past the tracker */
    return n >= 0 ? n : fall_back(out, max, plain);
}

int md_unwind_capture_logged(uintptr_t *out, int max, int *plain, md_capture_log *log, md_capture_start *start) {
    int n = md_cfi_backtrace_logged(md_unwind_tracker.start, md_unwind_tracker.end, out, max, plain, log, start);
    if (n >= 0) return n;
    log->complete = 0;
    return fall_back(out, max, plain);
}

void md_unwind_forget_modules(void) {
    md_cfi_flush();
    unw_flush_cache(unw_local_addr_space, 0, 0);
}

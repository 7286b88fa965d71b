/*
 * Stack capture with the cached rules, for the x86_64 System V ABI.
 *
 * A walk is a chain of dependent loads (return address -> rule -> CFA -> next return
 * address), so it runs at the latency of that chain. A second, direct-mapped table holds
 * copies of rules by stack position: consecutive captures mostly share their outer
 * frames at the same positions, and that slot's address is known before the return
 * address is loaded, which takes the hash lookup off the chain.
 *
 * Any frame a rule cannot express, and any address that would leave the thread's stack,
 * makes the whole capture return -1: the caller then asks libunwind, so doubt costs
 * time, never a wrong stack.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfi.h"

#ifdef MD_CFI_DIAGNOSTICS
/* Test builds learn why, and at which return address, this thread's last capture declined. */
__thread int md_cfi_declined_why __attribute__((tls_model("initial-exec")));
__thread uintptr_t md_cfi_declined_ip __attribute__((tls_model("initial-exec")));
const char *const md_cfi_reasons[] = {"not ready",    "no module", "no table", "no FDE",    "bad entry",  "bad CIE",
                                      "signal frame", "opcode",    "bad rule", "off stack", "other stack"};
#endif

static int decline(uintptr_t ip, int why) {
#ifdef MD_CFI_DIAGNOSTICS
    md_cfi_declined_why = why;
    md_cfi_declined_ip = ip;
#else
    (void)ip;
    (void)why;
#endif
    return -1;
}

extern void *__libc_stack_end;

/* Finds the calling thread's stack. The main thread's top is where the kernel left argc;
 * its bottom, as far as RLIMIT_STACK lets it grow (pthread_getattr_np would read
 * /proc/self/maps through stdio there). Other threads ask pthread_getattr_np, which
 * copies the thread's CPU affinity into a malloc'd buffer: inside the tracker's malloc
 * the recursion guard is set, so that allocation goes straight to glibc, unrecorded. */
static void find_stack(md_cfi_thread *t, uintptr_t sp) {
    if (gettid() == getpid()) {
        uintptr_t top = (uintptr_t)__libc_stack_end, bottom = 0;
        struct rlimit limit;
        if (getrlimit(RLIMIT_STACK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < top)
            bottom = top - limit.rlim_cur;
        if (sp < bottom || sp >= top) return; /* on a signal stack now: decide at a later capture */
        t->stack_lo = bottom;
        t->stack_hi = top;
        return;
    }
    pthread_attr_t attr;
    void *base;
    size_t size;
    t->stack_lo = t->stack_hi = 1; /* an empty range unless pthreads knows better: always decline */
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
    if (pthread_attr_getstack(&attr, &base, &size) == 0) {
        t->stack_lo = (uintptr_t)base;
        t->stack_hi = (uintptr_t)base + size;
    }
    pthread_attr_destroy(&attr);
}

/* Readies the thread's state for a capture from `sp`: 0, or why it must decline. */
static int prepare(md_cfi_thread *t, uintptr_t sp) {
    if (t->retired) return WHY_NOT_READY;
    if (MD_UNLIKELY(!t->stack_hi)) find_stack(t, sp);
    if (sp < t->stack_lo || sp >= t->stack_hi) return WHY_OTHER_STACK;
    return md_cfi_tables_ready(t);
}

/* Steps over a frame the common rules do not cover: a realigned one, whose CFA is read
 * from the frame, or the last one. Returns 1 with the CFA and the caller's rbp, 0 at the
 * end of the stack, or -1 to decline. Reads stay in [sp, hi). */
static __attribute__((noinline)) int step_unusual(const md_rule *r, uintptr_t sp, uintptr_t hi, uintptr_t *cfa,
                                                  uintptr_t *rbp) {
    if (r->kind != CFA_REALIGNED) return r->kind == FRAME_LAST ? 0 : decline(r->ip, r->extra);
    uintptr_t at = *rbp + r->cfa_offset;
    if (at < sp || at > hi - 8) return decline(r->ip, WHY_OFF_STACK);
    *cfa = *(const uintptr_t *)at;
    if (*cfa <= sp || *cfa > hi || (*cfa & 7)) return decline(r->ip, WHY_OFF_STACK);
    if (r->extra == REG_SAME) return 1;
    at = (r->extra == REG_AT_CFA ? *cfa : *rbp) + r->rbp_offset;
    if (at < sp || at > *cfa - 8) return decline(r->ip, WHY_OFF_STACK);
    *rbp = *(const uintptr_t *)at;
    return 1;
}

/* Steps from our own frame (rbp-based, as __builtin_frame_address makes it) outwards.
 * Each CFA must be aligned and lie above the last (the frame's sp), at most at hi; the
 * return address and the saved rbp are then read from the frame being stepped, [sp, cfa). */
static inline int walk(md_cfi_thread *t, const uintptr_t *fp, uintptr_t *out, int max) {
    const uintptr_t hi = t->stack_hi;
    uintptr_t sp = (uintptr_t)fp + 16, rbp = fp[0], ip = fp[1], cfa;
    md_rule *near = t->near, *slots = t->slots;
    size_t mask = mask_of(t->capacity);
    uintptr_t *next = out, *end = out + max;
    while (ip) {
        *next++ = ip;
        if (next == end) break;
        md_rule *r = &near[(sp >> 4) & (NEAR_SLOTS - 1)];
        if (MD_UNLIKELY(r->ip != ip)) {
            const md_rule *found = probe(slots, mask, ip);
            if (MD_UNLIKELY(!found)) {
                found = md_cfi_learn(t, ip);
                slots = t->slots;
                mask = mask_of(t->capacity);
            }
            *r = *found;
        }
        if (MD_LIKELY(r->kind <= CFA_RBP)) {
            cfa = (r->kind == CFA_RBP ? rbp : sp) + r->cfa_offset;
            if (cfa <= sp || cfa > hi || (cfa & 7)) return decline(ip, WHY_OFF_STACK);
            if (r->rbp_offset) {
                uintptr_t at = cfa + r->rbp_offset;
                if (at < sp) return decline(ip, WHY_OFF_STACK);
                rbp = *(const uintptr_t *)at;
            }
        } else {
            uintptr_t unusual_cfa, unusual_rbp = rbp; /* copies keep cfa and rbp in registers */
            int status = step_unusual(r, sp, hi, &unusual_cfa, &unusual_rbp);
            if (status <= 0) return status ? -1 : (int)(next - out);
            cfa = unusual_cfa;
            rbp = unusual_rbp;
        }
        ip = ((const uintptr_t *)cfa)[-1];
        sp = cfa;
    }
    return (int)(next - out);
}

/* Allocation-free after the thread's first call (see find_stack); async-signal-safe in
 * that a call interrupting another on the same thread declines rather than touching the
 * cache. dl_iterate_phdr, on a miss, takes the loader's lock. */
static inline __attribute__((always_inline)) int backtrace_from(const uintptr_t *fp, uintptr_t lo, uintptr_t hi,
                                                                uintptr_t *out, int max) {
    md_cfi_thread *t = &md_cfi_self;
    if (max <= 0) return 0;
    if (t->busy) return decline(0, WHY_NOT_READY);
    t->busy = 1;
    atomic_signal_fence(memory_order_seq_cst);
    int why = prepare(t, (uintptr_t)fp);
    /* Each frame of the chain lies above the last, and its two words below the stack's top. */
    while (!why && fp[1] - lo < hi - lo) {
        const uintptr_t *caller = (const uintptr_t *)fp[0];
        if (caller <= fp || (uintptr_t)caller > t->stack_hi - 16 || ((uintptr_t)caller & 7)) why = WHY_OFF_STACK;
        fp = caller;
    }
    int n = why ? decline(0, why) : walk(t, fp, out, max);
    atomic_signal_fence(memory_order_seq_cst);
    t->busy = 0;
    return n;
}

__attribute__((noinline)) int md_cfi_backtrace(uintptr_t *out, int max) {
    return backtrace_from(__builtin_frame_address(0), 0, 0, out, max);
}

__attribute__((noinline)) int md_cfi_backtrace_outside(uintptr_t lo, uintptr_t hi, uintptr_t *out, int max) {
    return backtrace_from(__builtin_frame_address(0), lo, hi, out, max);
}

/* The calling thread's stack, [lo, hi), as the walk bounds its reads; 0 when unknown (a signal
 * stack, a thread pthreads cannot describe). Allocation-free after the thread's first call. */
int md_cfi_stack_bounds(uintptr_t *lo, uintptr_t *hi) {
    md_cfi_thread *t = &md_cfi_self;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (MD_UNLIKELY(!t->stack_hi)) find_stack(t, sp);
    if (sp < t->stack_lo || sp >= t->stack_hi) return 0;
    *lo = t->stack_lo;
    *hi = t->stack_hi;
    return 1;
}

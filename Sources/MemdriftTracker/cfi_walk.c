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
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfi.h"

#ifdef MD_CFI_DIAGNOSTICS
/* Test builds learn why, and at which return address, this thread's last capture declined, and
 * how many captures took remembered frames. */
__thread int md_cfi_declined_why __attribute__((tls_model("initial-exec")));
__thread uintptr_t md_cfi_declined_ip __attribute__((tls_model("initial-exec")));
_Atomic unsigned long md_cfi_joins;
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

uintptr_t md_cfi_anchor_start, md_cfi_anchor_span;

void md_cfi_anchor_code(uintptr_t start, uintptr_t end) {
    md_cfi_anchor_start = start;
    md_cfi_anchor_span = end > start ? end - start : 0;
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

/* The registers a walk carries from frame to frame: the frame's sp (the CFA of the one before),
 * rbp and the return address. */
typedef struct {
    uintptr_t sp, rbp, ip;
} md_regs;

/* The thread's rule tables as a walk holds them (in registers); a cache miss may move them. */
typedef struct {
    md_rule *near, *slots;
    size_t mask;
} md_tables;

/* What a walk being remembered logs: each stack word it reads, the frame it read it for, and
 * whether it is a saved rbp (which matters only when a later frame's CFA depends on it); and
 * whether the current frame's rule used rbp as it came in, or replaced it from the stack. */
typedef struct {
    md_read *reads;
    uint16_t frame[MEMO_READS];
    uint8_t saved_rbp[MEMO_READS];
    int n, full, current;
    uint8_t uses_rbp, loads_rbp;
} md_log;

static inline uintptr_t read_word(md_log *log, uintptr_t at, int saved_rbp) {
    uintptr_t value = *(const uintptr_t *)at;
    if (log) {
        if (log->n == MEMO_READS) {
            log->full = 1;
            return value;
        }
        log->reads[log->n] = (md_read){at, value};
        log->frame[log->n] = (uint16_t)log->current;
        log->saved_rbp[log->n++] = (uint8_t)saved_rbp;
        if (saved_rbp) log->loads_rbp = 1;
    }
    return value;
}

/* A rule's way of stepping (all but its address): two frames stepped alike from the same registers
 * lead to the same caller. */
static inline uint64_t how_of(const md_rule *r) { return ((const uint64_t *)r)[1]; }

/* Whether the frame returning to `ip` runs the anchor code [start, start + span). */
static inline int is_anchor(uintptr_t ip, uintptr_t start, uintptr_t span) { return ip - 1 - start < span; }

/* Steps over a frame the common rules do not cover: a realigned one, whose CFA is read
 * from the frame, or the last one. Returns 1 with the CFA and the caller's rbp, 0 at the
 * end of the stack, or -1 to decline. Reads stay in [sp, hi). */
static __attribute__((noinline)) int step_unusual(const md_rule *r, uintptr_t sp, uintptr_t hi, uintptr_t *cfa,
                                                  uintptr_t *rbp, md_log *log) {
    if (r->kind != CFA_REALIGNED) return r->kind == FRAME_LAST ? 0 : decline(r->ip, r->extra);
    if (log) log->uses_rbp = 1;
    uintptr_t at = *rbp + r->cfa_offset;
    if (at < sp || at > hi - 8) return decline(r->ip, WHY_OFF_STACK);
    *cfa = read_word(log, at, 0);
    if (*cfa <= sp || *cfa > hi || (*cfa & 7)) return decline(r->ip, WHY_OFF_STACK);
    if (r->extra == REG_SAME) return 1;
    at = (r->extra == REG_AT_CFA ? *cfa : *rbp) + r->rbp_offset;
    if (at < sp || at > *cfa - 8) return decline(r->ip, WHY_OFF_STACK);
    *rbp = read_word(log, at, 1);
    return 1;
}

/* The rule for the frame that returns to g->ip, through the table by sp, then the one by ip. */
static inline __attribute__((always_inline)) const md_rule *rule_for(md_cfi_thread *t, md_tables *tb,
                                                                     const md_regs *g) {
    md_rule *r = &tb->near[(g->sp >> 4) & (NEAR_SLOTS - 1)];
    if (MD_UNLIKELY(r->ip != g->ip)) {
        const md_rule *found = probe(tb->slots, tb->mask, g->ip);
        if (MD_UNLIKELY(!found)) {
            found = md_cfi_learn(t, g->ip);
            tb->slots = t->slots;
            tb->mask = mask_of(t->capacity);
        }
        *r = *found;
    }
    return r;
}

/* Steps with rule `r` from the frame that returns to g->ip to its caller's: 1, 0 at the end of the
 * stack, or -1 to decline. Each CFA must be aligned and lie above the frame's sp, at most at hi;
 * the return address and the saved rbp are then read from the frame being stepped, [sp, cfa). */
static inline __attribute__((always_inline)) int step(const md_rule *r, md_regs *g, uintptr_t hi, md_log *log) {
    uintptr_t cfa;
    if (MD_LIKELY(r->kind <= CFA_RBP)) {
        if (log && r->kind == CFA_RBP) log->uses_rbp = 1;
        cfa = (r->kind == CFA_RBP ? g->rbp : g->sp) + r->cfa_offset;
        if (cfa <= g->sp || cfa > hi || (cfa & 7)) return decline(g->ip, WHY_OFF_STACK);
        if (r->rbp_offset) {
            uintptr_t at = cfa + r->rbp_offset;
            if (at < g->sp) return decline(g->ip, WHY_OFF_STACK);
            g->rbp = read_word(log, at, 1);
        }
    } else {
        uintptr_t unusual_cfa, unusual_rbp = g->rbp; /* copies keep cfa and rbp in registers */
        int status = step_unusual(r, g->sp, hi, &unusual_cfa, &unusual_rbp, log);
        if (status <= 0) return status;
        cfa = unusual_cfa;
        g->rbp = unusual_rbp;
    }
    g->ip = read_word(log, cfa - 8, 0);
    g->sp = cfa;
    return 1;
}

/*
 * Remembered walks. Most of a stack's outer frames are the same from one capture to the next (an
 * interpreter's main loop and everything below it), so a thread keeps the outer part of its last
 * full walk, from the frames of the anchor code (md_cfi_anchor_code) on, with the stack words that
 * walk's result depends on. A later walk that reaches one of those anchors with the same sp, a rule
 * that steps the same way (and the same rbp, when the rest depends on it) takes the remembered
 * frames from there if each of those words still holds the value it had: the walk is a function
 * of its registers and of what it reads, so the frames are exactly the ones it would have found. A
 * saved rbp that no later frame's CFA depends on is left out (code built without frame pointers
 * keeps data in rbp). Checking a word costs a load and a comparison; stepping over a frame about
 * thirty instructions.
 */

/* Walks on from anchor registers `g` to the end of the stack, logging, into the thread's memo;
 * leaves it empty when the walk declines or does not fit. */
static __attribute__((noinline)) void remember(md_cfi_thread *t, md_regs g) {
    md_tables tables = {.near = t->near, .slots = t->slots, .mask = mask_of(t->capacity)}, *tb = &tables;
    md_cfi_memo *m = t->memo;
    if (!m && !(m = t->memo = md_map(sizeof *m))) return;
    uint8_t uses[MEMO_FRAMES], loads[MEMO_FRAMES], needs_from[MEMO_FRAMES + 1];
    md_log log = {.reads = m->log};
    int frames = 0, anchors = 0;
    m->anchors = 0;
    while (g.ip) {
        if (frames == MEMO_FRAMES) return;
        const md_rule *r = rule_for(t, tb, &g);
        if (is_anchor(g.ip, md_cfi_anchor_start, md_cfi_anchor_span)) {
            if (anchors == MEMO_ANCHORS) return;
            m->anchor[anchors++] = (md_anchor){.sp = g.sp, .rbp = g.rbp, .how = how_of(r), .frame = (uint16_t)frames};
        }
        m->ips[frames] = g.ip;
        log.current = frames;
        log.uses_rbp = log.loads_rbp = 0;
        int status = step(r, &g, t->stack_hi, &log);
        uses[frames] = log.uses_rbp;
        loads[frames] = log.loads_rbp;
        frames++;
        if (status < 0 || log.full) return;
        if (status == 0) break;
    }
    /* Whether the walk from each frame on uses rbp before it reloads it. */
    needs_from[frames] = 0;
    for (int f = frames; f-- > 0;)
        needs_from[f] = uses[f] || (!loads[f] && needs_from[f + 1]);
    int kept = 0, a = 0;
    for (int i = 0; i < log.n; i++) {
        while (a < anchors && m->anchor[a].frame <= log.frame[i])
            m->anchor[a++].read = (uint16_t)kept;
        if (!log.saved_rbp[i] || needs_from[log.frame[i] + 1]) m->log[kept++] = m->log[i];
    }
    while (a < anchors)
        m->anchor[a++].read = (uint16_t)kept;
    for (a = 0; a < anchors; a++)
        m->anchor[a].needs_rbp = needs_from[m->anchor[a].frame];
    m->frames = frames;
    m->reads = kept;
    m->anchors = anchors;
}

/* Where a walk stands against the thread's memo: the next anchor it may meet, and how far the
 * remembered reads have been checked (log[checked..] hold; log[broken] does not). */
typedef struct {
    int next, checked, broken;
} md_join;

/* The index of the remembered frames a walk at `sp` and `rbp`, about to step with rule `r`, may
 * take from after its own frame, or -1. The anchor's return address may differ: a frame stepped
 * by the same rule from the same registers leads to the same caller. */
static inline int join(const md_cfi_memo *m, md_join *j, uintptr_t sp, uintptr_t rbp, const md_rule *r) {
    while (j->next < m->anchors && m->anchor[j->next].sp < sp)
        j->next++;
    if (j->next == m->anchors) return -1;
    const md_anchor *a = &m->anchor[j->next];
    if (a->sp != sp || a->how != how_of(r) || (a->needs_rbp && a->rbp != rbp) || a->read <= j->broken) return -1;
    uintptr_t differ = 0; /* the common case, all equal, without a branch per word */
    for (int i = a->read; i < j->checked; i++)
        differ |= *(const uintptr_t *)m->log[i].at ^ m->log[i].value;
    if (MD_UNLIKELY(differ)) {
        for (int i = j->checked; i-- > a->read;)
            if (*(const uintptr_t *)m->log[i].at != m->log[i].value) {
                j->broken = i;
                j->checked = i + 1;
                break;
            }
        return -1;
    }
    j->checked = a->read;
    return a->frame + 1;
}

/* Copies the memo's frames from index `from` on to next[0..), as far as `end`; returns how many and
 * moves *anchored (how many frames the stack has up to its last anchor so far) past the last anchor
 * among them. */
static inline int take_remembered(const md_cfi_memo *m, int from, uintptr_t *next, const uintptr_t *end,
                                  int *anchored) {
    int n = m->frames - from < end - next ? m->frames - from : (int)(end - next);
    memcpy(next, m->ips + from, (size_t)n * sizeof *next);
    int outermost = m->anchor[m->anchors - 1].frame; /* the memo's last anchor frame */
    if (n < m->frames - from)
        *anchored += n; /* cut short: anchors may lie anywhere in the copy */
    else if (outermost >= from)
        *anchored += outermost - from + 1;
    return n;
}

/* Walks from our own frame (rbp-based, as __builtin_frame_address makes it) outwards, joining the
 * thread's memo where it can, and remembering the walk's outer part when it could not. Sets
 * *plain to where the frames with no return address into the anchor code begin. Compiled twice:
 * without anchor code (`anchors` 0) the loop is the plain walk. */
static inline __attribute__((always_inline)) int walk(md_cfi_thread *t, const uintptr_t *fp, uintptr_t *out, int max,
                                                      int *plain, const int anchors) {
    const uintptr_t hi = t->stack_hi, anchor_start = md_cfi_anchor_start, anchor_span = md_cfi_anchor_span;
    md_tables tb = {.near = t->near, .slots = t->slots, .mask = mask_of(t->capacity)};
    md_regs g = {.sp = (uintptr_t)fp + 16, .rbp = fp[0], .ip = fp[1]}, first_anchor = {0};
    const md_cfi_memo *m = t->memo;
    md_join j = {.checked = m ? m->reads : 0, .broken = -1};
    uintptr_t *next = out, *end = out + max;
    int anchored = 0; /* past the last anchor frame so far */
    while (g.ip) {
        *next++ = g.ip;
        if (next == end) {
            *plain = max;
            return max;
        }
        const md_rule *r = rule_for(t, &tb, &g);
        if (anchors && MD_UNLIKELY(is_anchor(g.ip, anchor_start, anchor_span))) {
            anchored = (int)(next - out);
            int from = m && m->anchors ? join(m, &j, g.sp, g.rbp, r) : -1;
            if (from >= 0) {
#ifdef MD_CFI_DIAGNOSTICS
                atomic_fetch_add_explicit(&md_cfi_joins, 1, memory_order_relaxed);
#endif
                int n = take_remembered(m, from, next, end, &anchored);
                *plain = anchored;
                return (int)(next - out) + n;
            }
            if (!first_anchor.sp) first_anchor = g;
        }
        int status = step(r, &g, hi, NULL);
        if (status < 0) return -1;
        if (status == 0) break;
    }
    if (anchors && first_anchor.sp) remember(t, first_anchor);
    *plain = anchored;
    return (int)(next - out);
}

static __attribute__((noinline)) int walk_plain(md_cfi_thread *t, const uintptr_t *fp, uintptr_t *out, int max,
                                                int *plain) {
    return walk(t, fp, out, max, plain, 0);
}

static __attribute__((noinline)) int walk_anchored(md_cfi_thread *t, const uintptr_t *fp, uintptr_t *out, int max,
                                                   int *plain) {
    return walk(t, fp, out, max, plain, 1);
}

/*
 * Logged walks, for remembered captures (captures.c): the walk above, which logs every stack word
 * it reads and, where it joins the thread's memo, takes the memo's words from the anchor on (each
 * was just checked). A saved rbp is kept only when a later frame's CFA depends on it, as in
 * remember(); `needs_rbp` says whether the frames depend on the rbp the walk started with.
 */
static __attribute__((noinline)) int walk_logged(md_cfi_thread *t, md_regs g, uintptr_t *out, int max, int *plain,
                                                 md_capture_log *cl) {
    const uintptr_t hi = t->stack_hi, anchor_start = md_cfi_anchor_start, anchor_span = md_cfi_anchor_span;
    md_tables tb = {.near = t->near, .slots = t->slots, .mask = mask_of(t->capacity)};
    const md_cfi_memo *m = t->memo;
    md_join j = {.checked = m ? m->reads : 0, .broken = -1};
    md_log log = {.reads = cl->reads};
    uint8_t uses[MD_MAX_DEPTH], loads[MD_MAX_DEPTH], needs[MD_MAX_DEPTH + 1];
    md_regs first_anchor = {0};
    int frames = 0, stepped = 0, anchored = 0;
    const md_anchor *joined = NULL;
    if (cl->capacity < 2 * MEMO_READS || max > MD_MAX_DEPTH) return -1;
    while (g.ip) {
        out[frames++] = g.ip;
        if (frames == max) {
            anchored = max;
            break;
        }
        const md_rule *r = rule_for(t, &tb, &g);
        if (anchor_span && MD_UNLIKELY(is_anchor(g.ip, anchor_start, anchor_span))) {
            anchored = frames;
            int from = m && m->anchors ? join(m, &j, g.sp, g.rbp, r) : -1;
            if (from >= 0) {
                joined = &m->anchor[j.next]; /* steps this frame and the rest */
                frames += take_remembered(m, from, out + frames, out + max, &anchored);
                break;
            }
            if (!first_anchor.sp) first_anchor = g;
        }
        log.current = stepped;
        log.uses_rbp = log.loads_rbp = 0;
        int status = step(r, &g, hi, &log);
        uses[stepped] = log.uses_rbp;
        loads[stepped] = log.loads_rbp;
        stepped++;
        if (status < 0) return -1;
        if (status == 0) break;
    }
    if (!joined && first_anchor.sp) remember(t, first_anchor);
    *plain = anchored;
    /* Whether the walk from each frame it stepped on uses rbp before it reloads it. */
    needs[stepped] = joined ? joined->needs_rbp : 0;
    for (int f = stepped; f-- > 0;)
        needs[f] = uses[f] || (!loads[f] && needs[f + 1]);
    int kept = 0;
    for (int i = 0; i < log.n; i++)
        if (!log.saved_rbp[i] || needs[log.frame[i] + 1]) cl->reads[kept++] = cl->reads[i];
    if (joined) {
        memcpy(cl->reads + kept, m->log + joined->read, (size_t)(m->reads - joined->read) * sizeof *m->log);
        kept += m->reads - joined->read;
    }
    cl->n = kept;
    cl->needs_rbp = needs[0];
    if (log.full) cl->complete = 0;
    return frames;
}

/* Allocation-free after the thread's first call (see find_stack); async-signal-safe in
 * that a call interrupting another on the same thread declines rather than touching the
 * cache. dl_iterate_phdr, on a miss, takes the loader's lock. */
static inline __attribute__((always_inline)) int backtrace_from(const uintptr_t *fp, uintptr_t lo, uintptr_t hi,
                                                                uintptr_t *out, int max, int *plain,
                                                                md_capture_log *log, md_capture_start *start) {
    md_cfi_thread *t = &md_cfi_self;
    *plain = 0;
    if (max <= 0) return 0;
    if (t->busy) return decline(0, WHY_NOT_READY);
    t->busy = 1;
    atomic_signal_fence(memory_order_seq_cst);
    int why = prepare(t, (uintptr_t)fp);
    if (!why && !(fp = md_cfi_past(t, fp, lo, hi))) why = WHY_OFF_STACK;
    int n;
    if (why) {
        n = decline(0, why);
    } else if (log) {
        md_regs g = {.sp = (uintptr_t)fp + 16, .rbp = fp[0], .ip = fp[1]};
        *start = (md_capture_start){.sp = g.sp, .rbp = g.rbp, .ip = g.ip, .generation = t->generation};
        n = walk_logged(t, g, out, max, plain, log);
    } else {
        n = md_cfi_anchor_span ? walk_anchored(t, fp, out, max, plain) : walk_plain(t, fp, out, max, plain);
    }
    atomic_signal_fence(memory_order_seq_cst);
    t->busy = 0;
    return n;
}

__attribute__((noinline)) int md_cfi_backtrace(uintptr_t *out, int max) {
    int plain;
    return backtrace_from(__builtin_frame_address(0), 0, 0, out, max, &plain, NULL, NULL);
}

__attribute__((noinline)) int md_cfi_backtrace_outside(uintptr_t lo, uintptr_t hi, uintptr_t *out, int max,
                                                       int *plain) {
    return backtrace_from(__builtin_frame_address(0), lo, hi, out, max, plain, NULL, NULL);
}

__attribute__((noinline)) int md_cfi_backtrace_logged(uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int *plain,
                                                      md_capture_log *log, md_capture_start *start) {
    return backtrace_from(__builtin_frame_address(0), lo, hi, out, max, plain, log, start);
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

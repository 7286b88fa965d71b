/*
 * The stack walker's parts, shared by its three files: cfi_eh_frame.c derives the rule for
 * stepping over a frame from DWARF call-frame information in .eh_frame, cfi_cache.c keeps
 * each thread's rules by return address, and cfi_walk.c walks a stack with them.
 *
 * x86_64 System V only: stepping over a frame needs three registers, rsp (the caller's rsp is
 * the CFA), rbp and the return address, and a rule says how the CFA follows from rsp or rbp
 * and where the caller's rbp was saved.
 */
#ifndef MEMDRIFT_CFI_H
#define MEMDRIFT_CFI_H

#include "tracker.h"

#define NEAR_SLOTS 256u /* 4 KiB: rules by sp / 16, so 4 KiB of stack before slots repeat */

/* How a cached rule finds the CFA, or why the walk stops at its frame. The two common
 * kinds come first, so the walk tells them from the rest with one comparison; in those,
 * the caller's rbp is unchanged (rbp_offset 0) or saved at CFA + rbp_offset (<= -8). */
enum { CFA_RSP, CFA_RBP, CFA_REALIGNED, FRAME_LAST, FRAME_UNSUPPORTED };
/* A register's rule in a CFA program; a CFA_REALIGNED rule keeps rbp's in `extra`
 * (gcc's realigned frames save the caller's rbp at rbp + 0: REG_AT_RBP). */
enum { REG_SAME, REG_UNDEFINED, REG_AT_CFA, REG_AT_RBP, REG_UNKNOWN };
/* Why a capture declined; an unsupported rule keeps its reason in `extra`. */
enum { WHY_NOT_READY, WHY_NO_MODULE, WHY_NO_TABLE, WHY_NO_FDE, WHY_BAD_ENTRY, WHY_BAD_CIE, WHY_SIGNAL_FRAME };
enum { WHY_BAD_OPCODE = WHY_SIGNAL_FRAME + 1, WHY_BAD_RULE, WHY_OFF_STACK, WHY_OTHER_STACK };

typedef struct {
    uintptr_t ip; /* the return address; 0 marks an empty slot */
    int32_t cfa_offset;
    int16_t rbp_offset;
    uint8_t kind;  /* CFA_* or FRAME_* */
    uint8_t extra; /* REG_* of rbp for CFA_REALIGNED, WHY_* for FRAME_UNSUPPORTED */
} md_rule;
_Static_assert(sizeof(md_rule) == 16, "a rule is two words");

#define MEMO_FRAMES 128
#define MEMO_READS (2 * MEMO_FRAMES)
#define MEMO_ANCHORS 32

/* A frame of a remembered walk where a later walk may join it: the registers there, how its rule
 * steps, its place among the frames and reads, and whether the rest of the walk depends on the
 * incoming rbp. */
typedef struct {
    uintptr_t sp, rbp;
    uint64_t how; /* the frame's rule but its address (how_of) */
    uint16_t frame, read;
    uint8_t needs_rbp;
} md_anchor;

/* The outer part of the thread's last full walk, from its innermost anchor on (see cfi_walk.c):
 * its return addresses, the stack words its result depends on, and its anchors, innermost (lowest
 * sp) first.
 * No anchors: empty. */
typedef struct {
    int frames, reads, anchors;
    uintptr_t ips[MEMO_FRAMES];
    md_read log[MEMO_READS];
    md_anchor anchor[MEMO_ANCHORS];
} md_cfi_memo;

/* One thread's state. The walk reads the stack bounds; the cache owns the rule tables. */
typedef struct {
    md_rule *near;     /* copies of rules, indexed by the frame's sp; checked against ip */
    md_rule *slots;    /* all rules: open addressing by ip, linear probing; mapped on first use */
    md_cfi_memo *memo; /* mapped at the first walk that has an anchor */
    uint32_t capacity, used;
    uint32_t generation;
    int busy, retired;
    uintptr_t stack_lo, stack_hi; /* stack_hi == 0: not known yet */
} md_cfi_thread;

/* Hidden, as if each file's own: the walk's accesses compile as they did in one file. */
#pragma GCC visibility push(hidden)

extern __thread md_cfi_thread md_cfi_self __attribute__((tls_model("initial-exec")));
/* Bumped by md_cfi_flush: a thread whose tables are older forgets them before its next walk. */
extern _Atomic uint32_t md_cfi_generation;
/* Code whose frames anchor remembered walks (md_cfi_anchor_code); span 0: none. */
extern uintptr_t md_cfi_anchor_start, md_cfi_anchor_span;

/* ---- cfi_eh_frame.c ---- */

/* The rule for the frame that returns to `ip`, from the .eh_frame of the module holding it
 * (FRAME_UNSUPPORTED with the reason when there is none). Takes the loader's lock. */
md_rule md_cfi_rule_from_eh_frame(uintptr_t ip);

/* ---- cfi_cache.c ---- */

/* A cache miss: derives the rule for `ip` and keeps it; the table may move. */
const md_rule *md_cfi_learn(md_cfi_thread *t, uintptr_t ip);
/* Maps the thread's tables on first use, or empties them after a flush: 0, or WHY_NOT_READY. */
int md_cfi_renew(md_cfi_thread *t, uint32_t now);

#pragma GCC visibility pop

/* Readies the thread's rule tables for a walk: 0, or why the walk must decline. */
static inline int md_cfi_tables_ready(md_cfi_thread *t) {
    uint32_t now = atomic_load_explicit(&md_cfi_generation, memory_order_relaxed);
    if (MD_UNLIKELY(!t->slots || now != t->generation)) return md_cfi_renew(t, now);
    return 0;
}

/* Slots are addressed by byte offset; `mask` keeps an offset inside a table of `capacity`. */
static inline size_t mask_of(uint32_t capacity) { return ((size_t)capacity - 1) * sizeof(md_rule); }

static inline size_t slot_of(uintptr_t ip, size_t mask) { return (size_t)((ip * 0x9E3779B97F4A7C15ull) >> 28) & mask; }

static inline md_rule *slot_at(md_rule *slots, size_t offset) { return (md_rule *)((char *)slots + offset); }

/* The cached rule for the frame that returns to `ip`, or NULL. Rules describe ip - 1,
 * since the call may be the last instruction of its function. */
static inline const md_rule *probe(md_rule *slots, size_t mask, uintptr_t ip) {
    for (size_t at = slot_of(ip, mask);; at = (at + sizeof(md_rule)) & mask) {
        const md_rule *r = slot_at(slots, at);
        if (MD_LIKELY(r->ip == ip)) return r;
        if (!r->ip) return NULL;
    }
}

/* Steps from the frame at `fp` over the frames whose return address lies in [lo, hi) (the calling
 * code's, which keeps frame pointers) by their rbp chain: the first frame returning outside, or
 * NULL when the chain leaves the thread's stack. Each frame of the chain lies above the last, and
 * its two words below the stack's top. */
static inline const uintptr_t *md_cfi_past(const md_cfi_thread *t, const uintptr_t *fp, uintptr_t lo, uintptr_t hi) {
    while (fp[1] - lo < hi - lo) {
        const uintptr_t *caller = (const uintptr_t *)fp[0];
        if (caller <= fp || (uintptr_t)caller > t->stack_hi - 16 || ((uintptr_t)caller & 7)) return NULL;
        fp = caller;
    }
    return fp;
}

/* Where md_cfi_backtrace_outside, called from the frame at `fp`, would start its walk, without
 * walking (the same steps over the code in [lo, hi)): 0, or -1 when the thread's stack is not
 * known yet, `fp` is not on it or the chain leaves it. For remembered captures (captures.c). */
static inline int md_cfi_start(const uintptr_t *fp, uintptr_t lo, uintptr_t hi, md_capture_start *start) {
    const md_cfi_thread *t = &md_cfi_self;
    if (t->retired || (uintptr_t)fp - t->stack_lo >= t->stack_hi - t->stack_lo) return -1;
    if (!(fp = md_cfi_past(t, fp, lo, hi))) return -1;
    *start = (md_capture_start){.sp = (uintptr_t)fp + 16,
                                .rbp = fp[0],
                                .ip = fp[1],
                                .generation = atomic_load_explicit(&md_cfi_generation, memory_order_relaxed)};
    return 0;
}

#endif /* MEMDRIFT_CFI_H */

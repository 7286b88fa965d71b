/*
 * Stack capture from DWARF call-frame information, for the x86_64 System V ABI.
 *
 * Stepping over a frame needs three registers: rsp (the caller's rsp is the CFA), rbp
 * and the return address. For each return address a thread caches one 16-byte rule:
 * how the CFA follows from rsp or rbp, and where the caller's rbp was saved. Rules come
 * from .eh_frame, found through the sorted table in .eh_frame_hdr, read inside
 * dl_iterate_phdr so the module stays mapped while we parse it.
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
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tracker.h"

#define MIN_SLOTS 1024u  /* 16 KiB: most programs' hot return addresses fit */
#define MAX_SLOTS 65536u /* 1 MiB: beyond this a thread refills its table instead */
#define NEAR_SLOTS 256u  /* 4 KiB: rules by sp / 16, so 4 KiB of stack before slots repeat */
#define MAX_STATES 8     /* DW_CFA_remember_state nesting; compilers use one level */

/* The DWARF and .eh_frame constants we understand (DWARF 5, section 6.4.2; LSB 10.6). */
enum { DW_CFA_nop = 0x00, DW_CFA_advance_loc1 = 0x02, DW_CFA_advance_loc2 = 0x03, DW_CFA_advance_loc4 = 0x04 };
enum { DW_CFA_offset_extended = 0x05, DW_CFA_restore_extended = 0x06, DW_CFA_undefined = 0x07 };
enum { DW_CFA_same_value = 0x08, DW_CFA_register = 0x09, DW_CFA_remember_state = 0x0a, DW_CFA_restore_state = 0x0b };
enum { DW_CFA_def_cfa = 0x0c, DW_CFA_def_cfa_register = 0x0d, DW_CFA_def_cfa_offset = 0x0e };
enum { DW_CFA_def_cfa_expression = 0x0f, DW_CFA_expression = 0x10, DW_CFA_offset_extended_sf = 0x11 };
enum { DW_CFA_def_cfa_sf = 0x12, DW_CFA_def_cfa_offset_sf = 0x13, DW_CFA_val_offset = 0x14 };
enum { DW_CFA_val_offset_sf = 0x15, DW_CFA_val_expression = 0x16, DW_CFA_GNU_args_size = 0x2e };
enum { DW_CFA_advance_loc = 0x40, DW_CFA_offset = 0x80, DW_CFA_restore = 0xc0 };
enum { DW_OP_deref = 0x06, DW_OP_breg6 = 0x76 };
enum { DW_EH_PE_uleb128 = 0x01, DW_EH_PE_sleb128 = 0x09, DW_EH_PE_sdata4 = 0x0b };
enum { DW_EH_PE_absptr = 0x00, DW_EH_PE_pcrel = 0x10, DW_EH_PE_datarel = 0x30, DW_EH_PE_indirect = 0x80 };
enum { DWARF_RBP = 6, DWARF_RSP = 7, DWARF_RA = 16 };

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

typedef struct {
    md_rule *near;  /* copies of rules, indexed by the frame's sp; checked against ip */
    md_rule *slots; /* all rules: open addressing by ip, linear probing; mapped on first use */
    uint32_t capacity, used;
    uint32_t generation;
    int busy, retired;
    uintptr_t stack_lo, stack_hi; /* stack_hi == 0: not known yet */
} md_cfi_thread;

static __thread md_cfi_thread self __attribute__((tls_model("initial-exec")));
static _Atomic uint32_t generation;

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

static md_rule unsupported(int why) { return (md_rule){.kind = FRAME_UNSUPPORTED, .extra = (uint8_t)why}; }

/* ---- reading .eh_frame ---- */

/* A bounded reader: running past `end` sets `bad` and yields zeros, so callers check once. */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} md_cursor;

static uint64_t take(md_cursor *c, size_t n) {
    uint64_t v = 0;
    if ((size_t)(c->end - c->p) < n) {
        c->bad = 1;
        c->p = c->end;
        return 0;
    }
    memcpy(&v, c->p, n); /* x86_64 and its .eh_frame are little-endian */
    c->p += n;
    return v;
}

static uint8_t u8(md_cursor *c) { return (uint8_t)take(c, 1); }

/* LEB128, unsigned or signed; bits past 64 are dropped. */
static uint64_t leb(md_cursor *c, int is_signed) {
    uint64_t v = 0;
    for (unsigned shift = 0; c->p < c->end;) {
        uint8_t b = *c->p++;
        if (shift < 64) v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) return is_signed && shift < 64 && (b & 0x40) ? v | ~(uint64_t)0 << shift : v;
    }
    c->bad = 1;
    return 0;
}

static uint64_t uleb(md_cursor *c) { return leb(c, 0); }
static int64_t sleb(md_cursor *c) { return (int64_t)leb(c, 1); }

/* Splits off the next `n` bytes as a reader of their own. */
static md_cursor sub(md_cursor *c, uint64_t n) {
    md_cursor s = {c->p, c->p, 0};
    if (n > (uint64_t)(c->end - c->p))
        c->bad = s.bad = 1;
    else
        s.end = c->p += n;
    return s;
}

/* A pointer in one of the encodings compilers emit. Indirect ones are only personality
 * routines, which we skip by size, so here they count as malformed. */
static uintptr_t encoded(md_cursor *c, uint8_t enc, uintptr_t datarel) {
    static const uint8_t sizes[16] = {[0x0] = 8, [0x2] = 2, [0x3] = 4, [0x4] = 8, [0xa] = 2, [0xb] = 4, [0xc] = 8};
    uintptr_t field = (uintptr_t)c->p, v = 0;
    unsigned bits = sizes[enc & 0x0f] * 8u;
    if ((enc & 0x0f) == DW_EH_PE_uleb128)
        v = uleb(c);
    else if ((enc & 0x0f) == DW_EH_PE_sleb128)
        v = (uintptr_t)sleb(c);
    else if (!bits)
        c->bad = 1;
    else if (enc & 0x08) /* sdata2/4/8: sign-extend */
        v = (uintptr_t)((int64_t)(take(c, bits / 8) << (64 - bits)) >> (64 - bits));
    else
        v = take(c, bits / 8);
    if ((enc & 0x70) == DW_EH_PE_pcrel)
        v += field;
    else if ((enc & 0x70) == DW_EH_PE_datarel && datarel)
        v += datarel;
    else if ((enc & 0x70) != DW_EH_PE_absptr)
        c->bad = 1;
    if (enc & DW_EH_PE_indirect) c->bad = 1;
    return v;
}

/* Enters a CIE or FDE: bounds the reader by its length. 64-bit lengths are not emitted on Linux. */
static int enter(md_cursor *c) {
    uint32_t length = (uint32_t)take(c, 4);
    if (c->bad || length == 0 || length == 0xffffffffu || length > (size_t)(c->end - c->p)) return 0;
    c->end = c->p + length;
    return 1;
}

/* A reader from `p` to the end of the loaded segment holding it (empty if none does). */
static md_cursor in_segment(const struct dl_phdr_info *info, const uint8_t *p) {
    md_cursor c = {p, p, 0};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (uintptr_t)p - start < ph->p_memsz) c.end = (const uint8_t *)start + ph->p_memsz;
    }
    return c;
}

typedef struct {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    int has_data; /* augmentation 'z': FDEs carry a data block to skip */
    md_cursor program;
} md_cie;

/* Parses the CIE at `at`; 0 or the reason it is not supported. */
static int parse_cie(const struct dl_phdr_info *info, const uint8_t *at, md_cie *cie) {
    md_cursor c = in_segment(info, at);
    if (!enter(&c) || take(&c, 4) != 0) return WHY_BAD_ENTRY;
    uint8_t version = u8(&c);
    const uint8_t *augmentation = c.p;
    while (c.p < c.end && *c.p)
        c.p++;
    u8(&c);
    cie->code_align = uleb(&c);
    cie->data_align = sleb(&c);
    uint64_t ra = version == 1 ? u8(&c) : uleb(&c);
    if (c.bad || (version != 1 && version != 3) || ra != DWARF_RA) return WHY_BAD_CIE;
    cie->fde_enc = DW_EH_PE_absptr;
    cie->has_data = augmentation[0] == 'z';
    if (augmentation[0] && !cie->has_data) return WHY_BAD_CIE;
    if (cie->has_data) {
        md_cursor data = sub(&c, uleb(&c));
        for (const uint8_t *a = augmentation + 1; *a; a++) {
            if (*a == 'R')
                cie->fde_enc = u8(&data);
            else if (*a == 'L')
                u8(&data);
            else if (*a == 'P')
                encoded(&data, u8(&data) & 0x0f, 0); /* only its size matters */
            else
                return *a == 'S' ? WHY_SIGNAL_FRAME : WHY_BAD_CIE;
        }
        if (data.bad || c.bad) return WHY_BAD_CIE;
    }
    cie->program = c;
    return 0;
}

/* ---- running CFA programs ---- */

enum { COL_RBP, COL_RSP, COL_RA, COLUMNS };
enum { CFA_UNKNOWN, CFA_REGISTER, CFA_DEREF };

typedef struct {
    uint8_t how; /* REG_* */
    int64_t offset;
} md_saved;

/* One row of the CFA table, reduced to the three registers a walk needs. */
typedef struct {
    int cfa_how; /* CFA_UNKNOWN, register + offset, or *(rbp + offset) */
    uint64_t cfa_reg;
    int64_t cfa_offset;
    md_saved reg[COLUMNS];
} md_row;

static int column(uint64_t reg) {
    return reg == DWARF_RBP ? COL_RBP : reg == DWARF_RSP ? COL_RSP : reg == DWARF_RA ? COL_RA : -1;
}

/* Rules for other registers do not matter to a walk that only restores rsp, rbp and rip. */
static void set(md_row *row, uint64_t reg, int how, int64_t offset) {
    int col = column(reg);
    if (col >= 0) row->reg[col] = (md_saved){(uint8_t)how, offset};
}

static void restore(md_row *row, const md_row *initial, uint64_t reg) {
    int col = column(reg);
    if (col >= 0) row->reg[col] = initial ? initial->reg[col] : (md_saved){REG_UNKNOWN, 0};
}

/* DW_OP_breg6 offset: rbp + offset, the only address form gcc's realigned frames use. */
static int rbp_plus(md_cursor *e, int64_t *offset) {
    if (u8(e) != DW_OP_breg6) return 0;
    *offset = sleb(e);
    return !e->bad;
}

/* Runs CFA instructions from `loc` until the row covering `pc` is complete.
 * Returns 0, or the reason the program cannot be followed. */
static int run(md_cursor *c, const md_cie *cie, const md_row *initial, md_row *row, uintptr_t loc, uintptr_t pc) {
    md_row saved[MAX_STATES];
    int depth = 0;
    while (c->p < c->end) {
        uint8_t op = u8(c);
        uint64_t reg, advance = 0;
        int64_t offset;
        md_cursor e;
        switch (op < DW_CFA_advance_loc ? op : op & 0xc0) {
        case DW_CFA_nop:
            break;
        case DW_CFA_advance_loc:
            advance = op & 0x3f;
            break;
        case DW_CFA_advance_loc1:
        case DW_CFA_advance_loc2:
        case DW_CFA_advance_loc4:
            advance = take(c, (size_t)1 << (op - DW_CFA_advance_loc1));
            break;
        case DW_CFA_offset:
        case DW_CFA_offset_extended:
        case DW_CFA_offset_extended_sf:
            reg = (op & 0xc0) == DW_CFA_offset ? op & 0x3fu : uleb(c);
            offset = op == DW_CFA_offset_extended_sf ? sleb(c) : (int64_t)uleb(c);
            set(row, reg, REG_AT_CFA, offset * cie->data_align);
            break;
        case DW_CFA_restore:
        case DW_CFA_restore_extended:
            restore(row, initial, op == DW_CFA_restore_extended ? uleb(c) : op & 0x3fu);
            break;
        case DW_CFA_undefined:
        case DW_CFA_same_value:
            set(row, uleb(c), op == DW_CFA_undefined ? REG_UNDEFINED : REG_SAME, 0);
            break;
        case DW_CFA_register:
        case DW_CFA_val_offset:
        case DW_CFA_val_offset_sf:
        case DW_CFA_val_expression:
            reg = uleb(c);
            if (op == DW_CFA_val_expression)
                sub(c, uleb(c));
            else
                uleb(c); /* skips a signed LEB128 as well */
            set(row, reg, REG_UNKNOWN, 0);
            break;
        case DW_CFA_expression:
            reg = uleb(c);
            e = sub(c, uleb(c));
            if (reg == DWARF_RBP && rbp_plus(&e, &offset) && e.p == e.end)
                set(row, reg, REG_AT_RBP, offset);
            else
                set(row, reg, REG_UNKNOWN, 0);
            break;
        case DW_CFA_remember_state:
            if (depth == MAX_STATES) return WHY_BAD_OPCODE;
            saved[depth++] = *row;
            break;
        case DW_CFA_restore_state: /* the CFA rule comes back too, as compilers expect */
            if (depth == 0) return WHY_BAD_OPCODE;
            *row = saved[--depth];
            break;
        case DW_CFA_def_cfa:
        case DW_CFA_def_cfa_sf:
            row->cfa_reg = uleb(c);
            row->cfa_offset = op == DW_CFA_def_cfa ? (int64_t)uleb(c) : sleb(c) * cie->data_align;
            row->cfa_how = CFA_REGISTER;
            break;
        case DW_CFA_def_cfa_register: /* these two only amend a register-based CFA */
            row->cfa_reg = uleb(c);
            row->cfa_how = row->cfa_how == CFA_REGISTER ? CFA_REGISTER : CFA_UNKNOWN;
            break;
        case DW_CFA_def_cfa_offset:
        case DW_CFA_def_cfa_offset_sf:
            row->cfa_offset = op == DW_CFA_def_cfa_offset ? (int64_t)uleb(c) : sleb(c) * cie->data_align;
            row->cfa_how = row->cfa_how == CFA_REGISTER ? CFA_REGISTER : CFA_UNKNOWN;
            break;
        case DW_CFA_def_cfa_expression: /* only gcc's realignment: DW_OP_breg6 offset; DW_OP_deref */
            e = sub(c, uleb(c));
            row->cfa_how = CFA_UNKNOWN;
            if (rbp_plus(&e, &offset) && u8(&e) == DW_OP_deref && !e.bad && e.p == e.end) {
                row->cfa_how = CFA_DEREF;
                row->cfa_offset = offset;
            }
            break;
        case DW_CFA_GNU_args_size:
            uleb(c);
            break;
        default:
            return WHY_BAD_OPCODE;
        }
        if (c->bad) return WHY_BAD_ENTRY;
        uint64_t delta = advance * cie->code_align;
        if (delta && pc - loc < delta) return 0;
        loc += delta;
    }
    return 0;
}

/* Reduces the row at a return address to a cached rule, if a rule can express it. */
static md_rule to_rule(const md_row *row) {
    const md_saved *rbp = &row->reg[COL_RBP], *ra = &row->reg[COL_RA];
    if (ra->how == REG_UNDEFINED) return (md_rule){.kind = FRAME_LAST};
    /* The ABI's CFA is the caller's rsp; a rule for rsp itself would say otherwise. */
    if (ra->how != REG_AT_CFA || ra->offset != -8 || row->reg[COL_RSP].how != REG_SAME)
        return unsupported(WHY_BAD_RULE);
    md_rule r = {.cfa_offset = (int32_t)row->cfa_offset, .rbp_offset = (int16_t)rbp->offset};
    if (r.cfa_offset != row->cfa_offset || r.rbp_offset != rbp->offset) return unsupported(WHY_BAD_RULE);
    if (row->cfa_how == CFA_DEREF) {
        if (rbp->how == REG_UNDEFINED || rbp->how == REG_UNKNOWN) return unsupported(WHY_BAD_RULE);
        r.kind = CFA_REALIGNED;
        r.extra = rbp->how;
        return r;
    }
    if (row->cfa_how != CFA_REGISTER || (row->cfa_reg != DWARF_RSP && row->cfa_reg != DWARF_RBP))
        return unsupported(WHY_BAD_RULE);
    r.kind = row->cfa_reg == DWARF_RBP ? CFA_RBP : CFA_RSP;
    /* A saved register lies below the CFA, in the frame's own area. */
    if (rbp->how == REG_SAME || (rbp->how == REG_AT_CFA && rbp->offset <= -8)) return r;
    return unsupported(WHY_BAD_RULE);
}

static md_rule rule_from_fde(const struct dl_phdr_info *info, const uint8_t *fde, uintptr_t pc) {
    md_cursor c = in_segment(info, fde);
    if (!enter(&c)) return unsupported(WHY_BAD_ENTRY);
    const uint8_t *field = c.p;
    uint32_t cie_offset = (uint32_t)take(&c, 4);
    md_cie cie;
    int why = cie_offset ? parse_cie(info, field - cie_offset, &cie) : WHY_BAD_ENTRY;
    if (why) return unsupported(why);
    uintptr_t begin = encoded(&c, cie.fde_enc, 0);
    uintptr_t range = encoded(&c, cie.fde_enc & 0x0f, 0);
    if (cie.has_data) sub(&c, uleb(&c));
    if (c.bad) return unsupported(WHY_BAD_ENTRY);
    if (pc - begin >= range) return unsupported(WHY_NO_FDE);
    md_row initial = {.cfa_how = CFA_UNKNOWN};
    why = run(&cie.program, &cie, NULL, &initial, 0, UINTPTR_MAX);
    md_row row = initial;
    if (!why) why = run(&c, &cie, &initial, &row, begin, pc);
    return why ? unsupported(why) : to_rule(&row);
}

static int32_t s32_at(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Finds the FDE covering `pc` by binary search in .eh_frame_hdr's table, which the linker
 * sorted by start address. Only the layout every linker emits: datarel|sdata4 pairs. */
static md_rule rule_from_header(const struct dl_phdr_info *info, const uint8_t *hdr, uintptr_t pc) {
    md_cursor c = in_segment(info, hdr);
    uint8_t version = u8(&c), frame_enc = u8(&c), count_enc = u8(&c), table_enc = u8(&c);
    encoded(&c, frame_enc, (uintptr_t)hdr);
    uint64_t count = encoded(&c, count_enc, (uintptr_t)hdr);
    if (c.bad || version != 1 || table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4) || count > (size_t)(c.end - c.p) / 8)
        return unsupported(WHY_NO_TABLE);
    int64_t target = (int64_t)(pc - (uintptr_t)hdr);
    size_t lo = 0, hi = count; /* finds the first entry starting after pc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s32_at(c.p + 8 * mid) <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return unsupported(WHY_NO_FDE);
    return rule_from_fde(info, hdr + s32_at(c.p + 8 * (lo - 1) + 4), pc);
}

typedef struct {
    uintptr_t pc;
    md_rule rule;
} md_lookup;

/* dl_iterate_phdr callback: the loader lock keeps the module mapped while we read it. */
static int find_rule(struct dl_phdr_info *info, size_t size, void *context) {
    (void)size;
    md_lookup *q = context;
    const ElfW(Phdr) *hdr = NULL;
    int inside = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && q->pc - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz) inside = 1;
        if (ph->p_type == PT_GNU_EH_FRAME) hdr = ph;
    }
    if (!inside) return 0;
    q->rule = hdr ? rule_from_header(info, (const uint8_t *)(info->dlpi_addr + hdr->p_vaddr), q->pc)
                  : unsupported(WHY_NO_TABLE);
    return 1;
}

/* ---- the per-thread cache ---- */

/* Slots are addressed by byte offset; `mask` keeps an offset inside a table of `capacity`. */
static size_t mask_of(uint32_t capacity) { return ((size_t)capacity - 1) * sizeof(md_rule); }

static size_t slot_of(uintptr_t ip, size_t mask) { return (size_t)((ip * 0x9E3779B97F4A7C15ull) >> 28) & mask; }

static md_rule *slot_at(md_rule *slots, size_t offset) { return (md_rule *)((char *)slots + offset); }

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
static __attribute__((noinline)) const md_rule *learn(md_cfi_thread *t, uintptr_t ip) {
    md_lookup q = {.pc = ip - 1, .rule = unsupported(WHY_NO_MODULE)};
    dl_iterate_phdr(find_rule, &q);
    q.rule.ip = ip;
    if ((t->used + 1) * 2 > t->capacity && !grow(t)) forget_all(t);
    return insert(t, q.rule);
}

/* The cached rule for the frame that returns to `ip`, or NULL. Rules describe ip - 1,
 * since the call may be the last instruction of its function. */
static inline const md_rule *probe(md_rule *slots, size_t mask, uintptr_t ip) {
    for (size_t at = slot_of(ip, mask);; at = (at + sizeof(md_rule)) & mask) {
        const md_rule *r = slot_at(slots, at);
        if (MD_LIKELY(r->ip == ip)) return r;
        if (!r->ip) return NULL;
    }
}

/* ---- walking ---- */

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
    uint32_t now = atomic_load_explicit(&generation, memory_order_relaxed);
    if (MD_UNLIKELY(!t->slots)) {
        if (!t->near) t->near = md_map(NEAR_SLOTS * sizeof(md_rule));
        t->slots = t->near ? md_map(MIN_SLOTS * sizeof(md_rule)) : NULL;
        if (!t->slots) return WHY_NOT_READY;
        t->capacity = MIN_SLOTS;
        t->used = 0;
        t->generation = now;
    } else if (MD_UNLIKELY(now != t->generation)) {
        forget_all(t);
        t->generation = now;
    }
    return 0;
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
                found = learn(t, ip);
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
__attribute__((noinline)) int md_cfi_backtrace(uintptr_t *out, int max) {
    md_cfi_thread *t = &self;
    const uintptr_t *fp = __builtin_frame_address(0);
    if (max <= 0) return 0;
    if (t->busy) return decline(0, WHY_NOT_READY);
    t->busy = 1;
    atomic_signal_fence(memory_order_seq_cst);
    int why = prepare(t, (uintptr_t)fp);
    int n = why ? decline(0, why) : walk(t, fp, out, max);
    atomic_signal_fence(memory_order_seq_cst);
    t->busy = 0;
    return n;
}

/* Async-signal-safe, allocation-free, lock-free. */
void md_cfi_flush(void) { atomic_fetch_add_explicit(&generation, 1, memory_order_relaxed); }

/* Allocation-free. Not for a signal handler that may interrupt a capture on this thread. */
void md_cfi_thread_exit(void) {
    md_cfi_thread *t = &self;
    t->retired = 1;
    if (t->slots) md_unmap(t->slots, (size_t)t->capacity * sizeof(md_rule));
    if (t->near) md_unmap(t->near, NEAR_SLOTS * sizeof(md_rule));
    t->slots = t->near = NULL;
}

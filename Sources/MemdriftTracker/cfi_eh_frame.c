/*
 * Rules for stepping over a frame, from the DWARF call-frame information in .eh_frame, found
 * through the sorted table in .eh_frame_hdr and read inside dl_iterate_phdr so the module stays
 * mapped while it is parsed. Only what a rule can express is accepted: anything else yields an
 * unsupported rule with the reason, and the walk declines at that frame.
 */
#include <link.h>
#include <string.h>

#include "cfi.h"

#define MAX_STATES 8 /* DW_CFA_remember_state nesting; compilers use one level */

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

md_rule md_cfi_rule_from_eh_frame(uintptr_t ip) {
    md_lookup q = {.pc = ip - 1, .rule = unsupported(WHY_NO_MODULE)};
    dl_iterate_phdr(find_rule, &q);
    q.rule.ip = ip;
    return q.rule;
}

/*
 * The registry of loaded modules. Frames are stored relative to the module that
 * held them when the stack was first seen, so a later dlclose (or a different
 * library mapped at the same address) cannot change what an old stack means.
 */
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "tracker.h"

#define MD_MAX_MODULES 65534 /* indexes must fit in a frame's 16 module bits, minus "source" and "none" */
#define MD_BUILD_ID_MAX 64

typedef struct {
    uint64_t base; /* load bias: address - base is the ELF virtual address */
    uint64_t start, end;
    uint32_t path_offset;
    uint16_t path_length;
    uint8_t build_id_length;
    uint8_t loaded;
    uint32_t seen; /* refresh generation that last found it */
    uint8_t build_id[MD_BUILD_ID_MAX];
} md_module;

static md_lock module_lock;
/* Both arrays are only touched under module_lock, so they can move when they grow. */
static md_module *modules;
static uint32_t module_count, module_capacity;
static char *paths;
static uint32_t paths_used, paths_capacity;
static unsigned long long loader_adds, loader_subs;
static uint32_t generation;

typedef struct {
    int full; /* scan every module, not just compare the loader's counters */
    int changed;
} md_refresh;

static void read_build_id(struct dl_phdr_info *info, md_module *m) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *note = (const ElfW(Nhdr) *)p;
            size_t name = (note->n_namesz + 3) & ~3u, desc = (note->n_descsz + 3) & ~3u;
            const unsigned char *name_at = p + sizeof(ElfW(Nhdr));
            if (name_at + name + desc > end) break;
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name_at, "GNU", 4) == 0) {
                size_t n = note->n_descsz < MD_BUILD_ID_MAX ? note->n_descsz : MD_BUILD_ID_MAX;
                memcpy(m->build_id, name_at + name, n);
                m->build_id_length = (uint8_t)n;
                return;
            }
            p = name_at + name + desc;
        }
    }
}

/* Grows a module_lock-protected array to hold `need` bytes; 0 when memory ran out. */
static int ensure(void **array, uint32_t *capacity, size_t need) {
    if (need <= *capacity) return 1;
    size_t bigger = *capacity ? *capacity : 16384;
    while (bigger < need)
        bigger *= 2;
    if (bigger > UINT32_MAX) return 0;
    void *p = md_map(bigger);
    if (!p) return 0;
    if (*array) {
        memcpy(p, *array, *capacity);
        md_unmap(*array, *capacity);
    }
    *array = p;
    *capacity = (uint32_t)bigger;
    return 1;
}

static uint32_t store_path(const char *path, size_t n) {
    if (n > 4095 || !ensure((void **)&paths, &paths_capacity, (size_t)paths_used + n)) return UINT32_MAX;
    memcpy(paths + paths_used, path, n);
    uint32_t at = paths_used;
    paths_used += (uint32_t)n;
    return at;
}

static int same_path(const md_module *m, const char *path, size_t n) {
    return m->path_length == n && (n == 0 || memcmp(paths + m->path_offset, path, n) == 0);
}

typedef struct {
    uintptr_t address;
    md_object *found;
} md_object_query;

/* Called by dl_iterate_phdr with the loader's lock held: allocation-free. */
static int find_object(struct dl_phdr_info *info, size_t size, void *context) {
    (void)size;
    md_object_query *q = context;
    uintptr_t start = UINTPTR_MAX, end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < start) start = lo;
        if (hi > end) end = hi;
    }
    if (q->address < start || q->address >= end) return 0;
    *q->found = (md_object){.start = start, .end = end, .name = info->dlpi_name};
    return 1;
}

int md_object_at(uintptr_t address, md_object *out) {
    md_object_query q = {.address = address, .found = out};
    return dl_iterate_phdr(find_object, &q);
}

/* Called by dl_iterate_phdr with the loader's lock held: allocation-free. */
static int refresh_one(struct dl_phdr_info *info, size_t size, void *context) {
    md_refresh *r = context;
    if (!r->full) {
        if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs) &&
            info->dlpi_adds == loader_adds && info->dlpi_subs == loader_subs && module_count > 0)
            return 1; /* nothing was loaded or unloaded since the last scan */
        loader_adds = info->dlpi_adds;
        loader_subs = info->dlpi_subs;
        r->full = 1;
        r->changed = 1;
    }
    uint64_t start = UINT64_MAX, end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < start) start = lo;
        if (hi > end) end = hi;
    }
    if (start >= end) return 0;

    char exe[4096];
    const char *path = info->dlpi_name ? info->dlpi_name : "";
    size_t n = strlen(path);
    if (n == 0 && module_count == 0) {
        /* The main program is the first entry and has no name. */
        ssize_t got = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (got > 0) {
            path = exe;
            n = (size_t)got;
        }
    }
    for (uint32_t i = 0; i < module_count; i++) {
        md_module *m = &modules[i];
        if (m->loaded && m->base == info->dlpi_addr && m->start == start && m->end == end &&
            (same_path(m, path, n) || (n == 0 && i == 0))) {
            m->seen = generation;
            return 0;
        }
    }
    if (module_count >= MD_MAX_MODULES ||
        !ensure((void **)&modules, &module_capacity, sizeof(md_module) * ((size_t)module_count + 1)))
        return 0;
    md_module *m = &modules[module_count];
    memset(m, 0, sizeof *m);
    m->base = info->dlpi_addr;
    m->start = start;
    m->end = end;
    uint32_t at = store_path(path, n);
    m->path_offset = at == UINT32_MAX ? 0 : at;
    m->path_length = at == UINT32_MAX ? 0 : (uint16_t)n;
    read_build_id(info, m);
    m->loaded = 1;
    m->seen = generation;
    module_count++;
    return 0;
}

/* Caller holds module_lock. */
static void refresh(void) {
    generation++;
    md_refresh r = {0, 0};
    dl_iterate_phdr(refresh_one, &r);
    if (!r.changed || !modules) return;
    for (uint32_t i = 0; i < module_count; i++)
        if (modules[i].seen != generation) modules[i].loaded = 0;
}

static md_frame frame_in(uint32_t i, uintptr_t a) {
    return ((md_frame)i << 48) | ((a - modules[i].base) & 0xFFFFFFFFFFFFull);
}

static int holds(uint32_t i, uintptr_t a) { return modules[i].loaded && a >= modules[i].start && a < modules[i].end; }

/* `*last` is the module the previous frame was in: neighbouring frames mostly share one, and two
 * loaded modules never overlap, so trying it first finds what the full search would. */
static md_frame resolve_one(uintptr_t a, uint32_t *last) {
    if (md_is_source_key(a)) return a;
    if (*last < module_count && holds(*last, a)) return frame_in(*last, a);
    /* Newest first: a reused address range belongs to the module loaded last. */
    for (uint32_t i = module_count; i-- > 0;)
        if (holds(i, a)) {
            *last = i;
            return frame_in(i, a);
        }
    return ((md_frame)MD_FRAME_NO_MODULE << 48) | (a & 0xFFFFFFFFFFFFull);
}

/* Thread-safe; allocation-free. Called only for stacks not seen before. */
void md_modules_resolve(const uintptr_t *addresses, int n, md_frame *out) {
    md_lock_acquire(&module_lock);
    refresh();
    if (!modules) {
        for (int i = 0; i < n; i++)
            out[i] = md_is_source_key(addresses[i])
                         ? addresses[i]
                         : ((md_frame)MD_FRAME_NO_MODULE << 48) | (addresses[i] & 0xFFFFFFFFFFFFull);
    } else {
        uint32_t last = UINT32_MAX;
        for (int i = 0; i < n; i++)
            out[i] = resolve_one(addresses[i], &last);
    }
    md_lock_release(&module_lock);
}

uint32_t md_modules_count(void) {
    md_lock_acquire(&module_lock);
    uint32_t n = module_count;
    md_lock_release(&module_lock);
    return n;
}

void md_modules_write(md_buffer *b, md_written *w) {
    md_lock_acquire(&module_lock);
    refresh(); /* mark what has been unloaded since */
    size_t count_at = b->length;
    uint32_t listed = 0;
    md_buffer_u32(b, 0);
    for (uint32_t i = 0; i < module_count; i++) {
        const md_module *m = &modules[i];
        uint8_t state = m->loaded ? 1 : 2;
        int list = w->checkpoint || i >= w->module_capacity || w->modules[i] != state;
        if (i < w->module_capacity) w->modules[i] = state;
        if (!list) continue;
        listed++;
        md_buffer_u32(b, i);
        md_buffer_u32(b, m->loaded ? 1u : 0u);
        md_buffer_u64(b, m->base);
        md_buffer_u64(b, m->start);
        md_buffer_u64(b, m->end);
        md_buffer_u16(b, m->build_id_length);
        md_buffer_u16(b, m->path_length);
        md_buffer_append(b, m->build_id, m->build_id_length);
        md_buffer_append(b, paths + m->path_offset, m->path_length);
    }
    if (!b->failed) memcpy(b->data + count_at, &listed, sizeof listed);
    md_lock_release(&module_lock);
}

void md_modules_lock_for_fork(void) { md_lock_acquire(&module_lock); }

void md_modules_unlock_after_fork(int child) {
    if (child)
        md_lock_reset(&module_lock);
    else
        md_lock_release(&module_lock);
}

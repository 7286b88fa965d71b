/*
 * Python's objects where CPython allocates them. PyObject_Malloc and PyMem_Malloc serve requests
 * of up to 512 bytes from pymalloc's own arenas, which it maps itself: a leaked dict would only
 * show as an arena (mapped memory, at new_arena). So once Python code runs, the tracker puts
 * itself in front of both domains (PyMem_SetAllocator, a hook that calls on to pymalloc). Larger
 * requests reach malloc through pymalloc anyway.
 *
 * Exact mode records every small object and keeps it in pymalloc: the hook asks pymalloc for 16
 * bytes more and puts a tag in front of the object, the pointer xor a per-process random cookie
 * (top bit set) and the stack id and size it was counted with. The domains' free and realloc are
 * the tracker's too: a pointer whose 16 bytes before it hold its own tag is one of these, any
 * other goes to pymalloc as it came (pymalloc hands what is not in its arenas to PyMem_RawFree and
 * PyMem_RawRealloc, that is, to the tracker's free and realloc). A tag's check word is cleared
 * before its block goes back, so only a live tagged block carries one: a block pymalloc served
 * untagged (before the hook) starts where no live block's tag can be, and the bytes before it
 * would have to equal its address xor the cookie. Arenas pymalloc maps while serving a recorded
 * object are not counted as mapped memory (the objects in them are counted), so nothing counts
 * twice. Requests of 497-512 bytes, which do not fit pymalloc with a tag, come from glibc, tagged
 * there like any malloc.
 *
 * When sampling, only the sampled small requests are recorded: they are served by glibc instead,
 * tagged and recorded like any malloc, and every other request goes to pymalloc as before; realloc
 * and free stay pymalloc's own (docs/performance.md).
 *
 * The hook is installed by the writer thread, not in the allocation path, and only over the
 * allocators the process started with (pymalloc, in a release build): not over PYTHONMALLOC=malloc
 * (whose objects malloc already sees), debug hooks (-X dev, PYTHONMALLOC=debug, debug builds) or
 * tracemalloc. Swapping needs no lock: the hook keeps pymalloc's context, and a thread that reads
 * the allocator while it changes gets pymalloc's or the tracker's functions, both valid. In exact
 * mode free and realloc are swapped first and malloc and calloc after, so no tagged block exists
 * before the free that knows tags. Objects allocated before the hook (the interpreter's start, up
 * to a tick of the writer after the first Python frame) stay in pymalloc, unseen.
 */
#include <dlfcn.h>
#include <string.h>
#include <sys/auxv.h>

#include "python.h"

/* PyMemAllocatorEx (Include/cpython/pymem.h), public and the same since 3.5. */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t count, size_t size);
    void *(*realloc)(void *ctx, void *p, size_t size);
    void (*free)(void *ctx, void *p);
} md_py_allocator;

enum { DOMAIN_MEM = 1, DOMAIN_OBJ = 2, DOMAINS = 3 };
#define SMALL_REQUEST 512 /* pymalloc's limit (SMALL_REQUEST_THRESHOLD); larger go to malloc */
#define TAG_BYTES 16u     /* pymalloc's alignment: the object behind the tag stays aligned */
#define KEPT_LIMIT (SMALL_REQUEST - TAG_BYTES)
#define TAG_COUNTED 1ull
#define TAG_SIZE_SHIFT 1
#define TAG_SIZE_MASK 0x7FFFFFFFull

typedef void (*allocator_fn)(int domain, md_py_allocator *allocator);

/* In front of an object exact mode keeps in pymalloc. */
typedef struct {
    uintptr_t check; /* the object's address ^ cookie; 0 once it is freed */
    uint64_t word;   /* stack id (bits 32-55), size (bits 1-31), counted (bit 0) */
} md_py_tag;

_Atomic int md_py_running;
static md_py_allocator started[DOMAINS]; /* as the process started, by domain */
static int hookable;                     /* pymalloc in both domains, and the API to swap it */
static _Atomic int installed;
static allocator_fn get_allocator, set_allocator;
static uintptr_t cookie;

/* ---- sampling: recorded requests come from glibc ---- */

/* The countdown crossed zero at a small request: recorded from glibc, or pymalloc's after all
 * (tracking is off). Out of line, so the common path saves no registers. */
static __attribute__((noinline)) void *sampled(int domain, void *ctx, size_t count, size_t size, int zeroed) {
    void *p;
    if (md_hooks_sample_crossed(count * size, zeroed, &p)) return p;
    return zeroed ? started[domain].calloc(ctx, count, size) : started[domain].malloc(ctx, size);
}

/* A small request: recorded from glibc when sampled, else pymalloc's. The countdown is
 * malloc's (hooks.c), taken here without a call. */
static inline void *small(int domain, void *ctx, size_t size) {
    if (size <= SMALL_REQUEST && MD_UNLIKELY(md_count_down(size))) return sampled(domain, ctx, 1, size, 0);
    return started[domain].malloc(ctx, size);
}

static inline void *small_zeroed(int domain, void *ctx, size_t count, size_t size) {
    size_t total;
    if (!__builtin_mul_overflow(count, size, &total) && total <= SMALL_REQUEST && MD_UNLIKELY(md_count_down(total)))
        return sampled(domain, ctx, count, size, 1);
    return started[domain].calloc(ctx, count, size);
}

static void *mem_malloc(void *ctx, size_t size) { return small(DOMAIN_MEM, ctx, size); }
static void *obj_malloc(void *ctx, size_t size) { return small(DOMAIN_OBJ, ctx, size); }
static void *mem_calloc(void *ctx, size_t count, size_t size) { return small_zeroed(DOMAIN_MEM, ctx, count, size); }
static void *obj_calloc(void *ctx, size_t count, size_t size) { return small_zeroed(DOMAIN_OBJ, ctx, count, size); }

/* ---- exact mode: recorded objects stay in pymalloc, tagged ---- */

static inline md_py_tag *tag_of(void *p) { return (md_py_tag *)p - 1; }

/* Whether `p`, a pointer the domain handed out (or NULL), is one of the tracker's tagged objects.
 * The 16 bytes before any such pointer are readable: a pymalloc pool's header or earlier block, a
 * glibc chunk's header, or a tag. */
static inline int is_kept(void *p) { return p && tag_of(p)->check == ((uintptr_t)p ^ cookie); }

/* Tags `block`, which pymalloc served for an object of `size` bytes, and counts it when `recorded`;
 * returns the object. */
static void *keep(void *block, size_t size, int recorded) {
    void *p = (char *)block + TAG_BYTES;
    uint64_t word = (uint64_t)size << TAG_SIZE_SHIFT;
    if (recorded) word |= ((uint64_t)md_hooks_count_kept(size, __builtin_frame_address(0)) << 32) | TAG_COUNTED;
    tag_of(p)->word = word;
    tag_of(p)->check = (uintptr_t)p ^ cookie;
    return p;
}

/* Uncounts a tagged object and clears its tag; returns pymalloc's block. */
static void *unkeep(void *p) {
    md_py_tag *tag = tag_of(p);
    uint64_t word = tag->word;
    tag->check = 0;
    if (word & TAG_COUNTED)
        md_hooks_uncount_kept((uint32_t)(word >> 32), (size_t)((word >> TAG_SIZE_SHIFT) & TAG_SIZE_MASK));
    return tag;
}

/* pymalloc's malloc or calloc of `size` (+ the tag) bytes. Arenas it maps meanwhile are not
 * counted: the tracker counts the objects in them. */
static void *pymalloc_block(int domain, void *ctx, size_t size, int zeroed) {
    int guard = md_guard_enter();
    void *block = zeroed ? started[domain].calloc(ctx, 1, size) : started[domain].malloc(ctx, size);
    md_guard_leave(guard);
    return block;
}

/* Exact mode's malloc and calloc of `size` bytes. Called with the GIL held, like any object
 * allocator; allocation-free apart from the block it returns. */
static inline void *exact(int domain, void *ctx, size_t size, int zeroed) {
    if (size <= KEPT_LIMIT && md_hooks_wanted(size)) {
        void *block = pymalloc_block(domain, ctx, size + TAG_BYTES, zeroed);
        return block ? keep(block, size, 1) : NULL;
    }
    void *p;
    if (size > KEPT_LIMIT && size <= SMALL_REQUEST && md_hooks_sample(size, zeroed, &p)) return p;
    return zeroed ? started[domain].calloc(ctx, 1, size) : started[domain].malloc(ctx, size);
}

static inline void *exact_zeroed(int domain, void *ctx, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return started[domain].calloc(ctx, count, size);
    return exact(domain, ctx, total, 1);
}

/* Exact mode's free: a tagged object uncounted, then whatever pymalloc served back to it. */
static inline void exact_free(int domain, void *ctx, void *p) { started[domain].free(ctx, is_kept(p) ? unkeep(p) : p); }

/* A tagged object resized: in pymalloc with its tag while it fits, else moved to a block the
 * domain's malloc serves (recorded there when wanted). NULL is a new object, recorded; any other
 * pointer is pymalloc's to resize, as before the hook. */
static void *exact_realloc(int domain, void *ctx, void *p, size_t size) {
    if (!p) return exact(domain, ctx, size, 0); /* an empty list's first append */
    if (!is_kept(p)) return started[domain].realloc(ctx, p, size);
    md_py_tag *tag = tag_of(p), before = *tag;
    size_t old_size = (size_t)((before.word >> TAG_SIZE_SHIFT) & TAG_SIZE_MASK);
    if (size > KEPT_LIMIT) {
        void *q = exact(domain, ctx, size, 0);
        if (!q) return NULL;
        memcpy(q, p, old_size < size ? old_size : size);
        exact_free(domain, ctx, p);
        return q;
    }
    int recorded = md_hooks_wanted(size);
    tag->check = 0; /* pymalloc may move the block: its old place must not keep a tag */
    int guard = md_guard_enter();
    void *block = started[domain].realloc(ctx, tag, size + TAG_BYTES);
    md_guard_leave(guard);
    if (!block) {
        tag->check = before.check;
        return NULL;
    }
    if (before.word & TAG_COUNTED) md_hooks_uncount_kept((uint32_t)(before.word >> 32), old_size);
    return keep(block, size, recorded);
}

static void *mem_exact_malloc(void *ctx, size_t size) { return exact(DOMAIN_MEM, ctx, size, 0); }
static void *obj_exact_malloc(void *ctx, size_t size) { return exact(DOMAIN_OBJ, ctx, size, 0); }
static void *mem_exact_calloc(void *ctx, size_t count, size_t size) {
    return exact_zeroed(DOMAIN_MEM, ctx, count, size);
}
static void *obj_exact_calloc(void *ctx, size_t count, size_t size) {
    return exact_zeroed(DOMAIN_OBJ, ctx, count, size);
}
static void *mem_exact_realloc(void *ctx, void *p, size_t size) { return exact_realloc(DOMAIN_MEM, ctx, p, size); }
static void *obj_exact_realloc(void *ctx, void *p, size_t size) { return exact_realloc(DOMAIN_OBJ, ctx, p, size); }
static void mem_exact_free(void *ctx, void *p) { exact_free(DOMAIN_MEM, ctx, p); }
static void obj_exact_free(void *ctx, void *p) { exact_free(DOMAIN_OBJ, ctx, p); }

void md_py_alloc_init(void) {
    get_allocator = (allocator_fn)dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
    set_allocator = (allocator_fn)dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
    if (!get_allocator || !set_allocator) return;
    /* Before main, these are the allocators compiled in: pymalloc's (no context) in a release
     * build, debug hooks (a context) in a debug build. */
    get_allocator(DOMAIN_MEM, &started[DOMAIN_MEM]);
    get_allocator(DOMAIN_OBJ, &started[DOMAIN_OBJ]);
    hookable = !started[DOMAIN_MEM].ctx && !started[DOMAIN_OBJ].ctx && started[DOMAIN_MEM].malloc &&
               started[DOMAIN_OBJ].malloc && started[DOMAIN_MEM].calloc && started[DOMAIN_OBJ].calloc &&
               started[DOMAIN_MEM].realloc && started[DOMAIN_OBJ].realloc && started[DOMAIN_MEM].free &&
               started[DOMAIN_OBJ].free;
    /* The kernel's 16 random bytes for this process (AT_RANDOM); the address of a local if absent. */
    const uintptr_t *random = (const uintptr_t *)getauxval(AT_RANDOM);
    uintptr_t local = (uintptr_t)&random;
    cookie = (random ? random[0] ^ random[1] : local * 0x9E3779B97F4A7C15ull) | (1ull << 63);
}

void md_python_tick(void) {
    if (!hookable || atomic_load_explicit(&installed, memory_order_relaxed) ||
        !atomic_load_explicit(&md_py_running, memory_order_relaxed))
        return;
    /* The interpreter chose its allocators long before its first Python frame: only if they are
     * still those it started with is there nothing in front of pymalloc. */
    md_py_allocator now[DOMAINS];
    get_allocator(DOMAIN_MEM, &now[DOMAIN_MEM]);
    get_allocator(DOMAIN_OBJ, &now[DOMAIN_OBJ]);
    atomic_store_explicit(&installed, 1, memory_order_relaxed); /* one try */
    if (memcmp(&now[DOMAIN_MEM], &started[DOMAIN_MEM], sizeof(md_py_allocator)) != 0 ||
        memcmp(&now[DOMAIN_OBJ], &started[DOMAIN_OBJ], sizeof(md_py_allocator)) != 0)
        return;
    md_py_allocator mem = started[DOMAIN_MEM], obj = started[DOMAIN_OBJ];
    if (md_sample_rate == 0) {
        mem.realloc = mem_exact_realloc;
        mem.free = mem_exact_free;
        obj.realloc = obj_exact_realloc;
        obj.free = obj_exact_free;
        set_allocator(DOMAIN_MEM, &mem);
        set_allocator(DOMAIN_OBJ, &obj);
        mem.malloc = mem_exact_malloc;
        mem.calloc = mem_exact_calloc;
        obj.malloc = obj_exact_malloc;
        obj.calloc = obj_exact_calloc;
    } else {
        mem.malloc = mem_malloc;
        mem.calloc = mem_calloc;
        obj.malloc = obj_malloc;
        obj.calloc = obj_calloc;
    }
    set_allocator(DOMAIN_MEM, &mem);
    set_allocator(DOMAIN_OBJ, &obj);
}

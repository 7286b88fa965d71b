/*
 * Python's objects where CPython allocates them. PyObject_Malloc and PyMem_Malloc serve requests
 * of up to 512 bytes from pymalloc's own arenas, which it maps itself: a leaked dict would only
 * show as an arena (mapped memory, at new_arena). So once Python code runs, the tracker puts
 * itself in front of both domains' malloc and calloc (PyMem_SetAllocator, a hook that calls on):
 * a small request the sampling countdown picks is served by glibc instead, tagged and recorded
 * like any malloc, at the Python line that asked for it; every other request goes to pymalloc
 * as before. realloc and free stay pymalloc's own: pymalloc hands a pointer that is not in its
 * arenas to PyMem_RawRealloc or PyMem_RawFree, that is, to the tracker's realloc and free, which
 * know recorded blocks by their tag. Larger requests reach malloc through pymalloc anyway.
 *
 * In exact mode every small object is recorded, so all of them come from glibc while tracing;
 * when sampling, only the sampled ones do and pymalloc keeps the rest (docs/performance.md).
 *
 * The hook is installed by the writer thread, not in the allocation path, and only over the
 * allocators the process started with (pymalloc, in a release build): not over PYTHONMALLOC=malloc
 * (whose objects malloc already sees), debug hooks (-X dev, PYTHONMALLOC=debug, debug builds) or
 * tracemalloc. Swapping needs no lock: the hook keeps pymalloc's context, realloc and free, so a
 * thread that reads the allocator while it changes gets pymalloc's or the tracker's malloc, both
 * valid. Objects allocated before the hook (the interpreter's start, up to a tick of the writer
 * after the first Python frame) stay in pymalloc, unseen.
 */
#include <dlfcn.h>
#include <string.h>

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

typedef void (*allocator_fn)(int domain, md_py_allocator *allocator);

_Atomic int md_py_running;
static md_py_allocator started[DOMAINS]; /* as the process started, by domain */
static int hookable;                     /* pymalloc in both domains, and the API to swap it */
static _Atomic int installed;
static allocator_fn get_allocator, set_allocator;

/* A small request: recorded from glibc when sampled, else pymalloc's. */
static inline void *small(int domain, void *ctx, size_t size) {
    void *p;
    if (size <= SMALL_REQUEST && md_hooks_sample(size, 0, &p)) return p;
    return started[domain].malloc(ctx, size);
}

static inline void *small_zeroed(int domain, void *ctx, size_t count, size_t size) {
    size_t total;
    void *p;
    if (!__builtin_mul_overflow(count, size, &total) && total <= SMALL_REQUEST && md_hooks_sample(total, 1, &p))
        return p;
    return started[domain].calloc(ctx, count, size);
}

static void *mem_malloc(void *ctx, size_t size) { return small(DOMAIN_MEM, ctx, size); }
static void *obj_malloc(void *ctx, size_t size) { return small(DOMAIN_OBJ, ctx, size); }
static void *mem_calloc(void *ctx, size_t count, size_t size) { return small_zeroed(DOMAIN_MEM, ctx, count, size); }
static void *obj_calloc(void *ctx, size_t count, size_t size) { return small_zeroed(DOMAIN_OBJ, ctx, count, size); }

void md_py_alloc_init(void) {
    get_allocator = (allocator_fn)dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
    set_allocator = (allocator_fn)dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
    if (!get_allocator || !set_allocator) return;
    /* Before main, these are the allocators compiled in: pymalloc's (no context) in a release
     * build, debug hooks (a context) in a debug build. */
    get_allocator(DOMAIN_MEM, &started[DOMAIN_MEM]);
    get_allocator(DOMAIN_OBJ, &started[DOMAIN_OBJ]);
    hookable = !started[DOMAIN_MEM].ctx && !started[DOMAIN_OBJ].ctx && started[DOMAIN_MEM].malloc &&
               started[DOMAIN_OBJ].malloc && started[DOMAIN_MEM].calloc && started[DOMAIN_OBJ].calloc;
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
    mem.malloc = mem_malloc;
    mem.calloc = mem_calloc;
    obj.malloc = obj_malloc;
    obj.calloc = obj_calloc;
    set_allocator(DOMAIN_MEM, &mem);
    set_allocator(DOMAIN_OBJ, &obj);
}

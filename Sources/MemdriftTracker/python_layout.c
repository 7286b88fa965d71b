/*
 * Which CPython runs in this process, and where its version keeps what the tracker reads.
 *
 * The interpreter is found by its exported symbols in the main program or a library loaded with
 * it (libpython): _PyEval_EvalFrameDefault (PyEval_EvalFrameEx before 3.6), whose native frames
 * stand for Python frames, and the version in Py_Version (3.11+) or Py_GetVersion(). 3.11 and 3.12 use the offsets
 * below, taken from their headers (Include/internal/pycore_frame.h, Include/cpython/pystate.h and code.h,
 * Include/cpython/unicodeobject.h); 3.13 publishes its own at the start of _PyRuntime
 * (_Py_DebugOffsets), which are read instead. Either way the layout must then describe the
 * process's own type objects (their names and a code object's size), or nothing is read: a
 * debug build (Py_TRACE_REFS) or another ABI fails that test. Any other version keeps its native
 * frames, and the tracker says so once when a Python stack is first seen.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "python.h"

md_py_layout md_py;
int md_py_ready;
uintptr_t md_py_eval_start, md_py_eval_end;
uintptr_t md_py_code_type, md_py_str_type, md_py_bytes_type;
md_py_thread_state_fn md_py_attached_state, md_py_gilstate_state;

static char unsupported[256];
static size_t unsupported_length;
static _Atomic int unsupported_said;

/* 3.11: frames under tstate->cframe->current_frame, f_code first-class, is_entry per frame. */
static const md_py_layout layout_311 = {
    .minor = 11,
    .tstate_thread_id = 152,
    .tstate_cframe = 56,
    .tstate_current_frame = 8,
    .frame_code = 32,
    .frame_previous = 48,
    .frame_instr = 56,
    .frame_owner = 69,
    .frame_is_entry = 68,
    .ob_type = 8,
    .ob_size = 16,
    .tp_name = 24,
    .tp_basicsize = 32,
    .code_filename = 112,
    .code_qualname = 128,
    .code_linetable = 136,
    .code_firstlineno = 72,
    .code_units = 184,
    .bytes_data = 32,
    .unicode_length = 16,
    .unicode_state = 32,
    .ascii_data = 48,
    .compact_data = 72,
};

/* 3.12: the code first in the frame, entry frames owned by the C stack, no wstr in str objects. */
static const md_py_layout layout_312 = {
    .minor = 12,
    .tstate_thread_id = 136,
    .tstate_cframe = 56,
    .tstate_current_frame = 0,
    .frame_code = 0,
    .frame_previous = 8,
    .frame_instr = 56,
    .frame_owner = 70,
    .frame_is_entry = -1,
    .ob_type = 8,
    .ob_size = 16,
    .tp_name = 24,
    .tp_basicsize = 32,
    .code_filename = 112,
    .code_qualname = 128,
    .code_linetable = 136,
    .code_firstlineno = 68,
    .code_units = 192,
    .bytes_data = 32,
    .unicode_length = 16,
    .unicode_state = 32,
    .ascii_data = 40,
    .compact_data = 56,
};

/* The part of 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h) read here: every field
 * is a u64 offset, groups of them per structure, each group starting with the structure's size. */
typedef struct {
    char cookie[8]; /* "xdebugpy" */
    uint64_t version, free_threaded;
    uint64_t runtime_state[3], interpreter_state[13];
    struct {
        uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id, datastack_chunk, status;
    } thread_state;
    struct {
        uint64_t size, previous, executable, instr_ptr, localsplus, owner;
    } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames, localspluskinds,
            co_code_adaptive;
    } code_object;
    struct {
        uint64_t size, ob_type;
    } pyobject;
    struct {
        uint64_t size, tp_name, tp_repr, tp_flags;
    } type_object;
    uint64_t tuple_list_dict_float_long[14];
    struct {
        uint64_t size, ob_size, ob_sval;
    } bytes_object;
    struct {
        uint64_t size, state, length, asciiobject_size;
    } unicode_object;
} md_py_debug_offsets_313;

static void set_unsupported(const char *version, const char *why) {
    int n = snprintf(unsupported, sizeof unsupported,
                     "memdrift: CPython %s: %s; its call sites show the interpreter's native frames, not Python's\n",
                     version, why);
    unsupported_length = n < 0 ? 0 : (size_t)n < sizeof unsupported ? (size_t)n : sizeof unsupported - 1;
}

void md_py_say_unsupported(void) {
    if (!unsupported_length || atomic_exchange(&unsupported_said, 1)) return;
    ssize_t ignored = write(STDERR_FILENO, unsupported, unsupported_length);
    (void)ignored;
}

/* An offset of 3.13's table, if it lies inside a structure of `size` bytes (at most 64 KiB). */
static int inside(uint64_t offset, uint64_t size, uint32_t *out) {
    if (size > 65536 || offset + 8 > size) return 0;
    *out = (uint32_t)offset;
    return 1;
}

/* 3.13's own offsets, checked for sense; 0 when they cannot be used. */
static int layout_313(const md_py_debug_offsets_313 *d, md_py_layout *l) {
    if (memcmp(d->cookie, "xdebugpy", 8) != 0 || (d->version >> 16) != 0x030D || d->free_threaded) return 0;
    uint32_t frame_size = (uint32_t)d->interpreter_frame.size;
    *l = (md_py_layout){.minor = 13, .tstate_cframe = -1, .frame_is_entry = -1};
    uint64_t ascii = d->unicode_object.asciiobject_size;
    if (ascii > 256 || d->interpreter_frame.owner >= frame_size) return 0;
    l->frame_owner = (uint32_t)d->interpreter_frame.owner;
    l->ascii_data = (uint32_t)ascii;
    l->compact_data = (uint32_t)ascii + 16; /* utf8_length and utf8 follow the ASCII header */
    l->tp_basicsize = (uint32_t)d->type_object.tp_name + 8;
    return inside(d->thread_state.thread_id, d->thread_state.size, &l->tstate_thread_id) &&
           inside(d->thread_state.current_frame, d->thread_state.size, &l->tstate_current_frame) &&
           inside(d->interpreter_frame.executable, frame_size, &l->frame_code) &&
           inside(d->interpreter_frame.previous, frame_size, &l->frame_previous) &&
           inside(d->interpreter_frame.instr_ptr, frame_size, &l->frame_instr) &&
           inside(d->pyobject.ob_type, d->pyobject.size, &l->ob_type) &&
           inside(d->bytes_object.ob_size, d->bytes_object.size, &l->ob_size) &&
           inside(d->type_object.tp_name, d->type_object.size, &l->tp_name) &&
           inside(d->code_object.filename, d->code_object.size, &l->code_filename) &&
           inside(d->code_object.qualname, d->code_object.size, &l->code_qualname) &&
           inside(d->code_object.linetable, d->code_object.size, &l->code_linetable) &&
           inside(d->code_object.firstlineno, d->code_object.size, &l->code_firstlineno) &&
           d->code_object.co_code_adaptive <= d->code_object.size &&
           (l->code_units = (uint32_t)d->code_object.co_code_adaptive) != 0 &&
           d->bytes_object.ob_sval <= d->bytes_object.size &&
           (l->bytes_data = (uint32_t)d->bytes_object.ob_sval) != 0 &&
           inside(d->unicode_object.state, d->unicode_object.size, &l->unicode_state) &&
           inside(d->unicode_object.length, d->unicode_object.size, &l->unicode_length);
}

/* Whether a type object has the name and instance size the layout expects of it. */
static int type_is(uintptr_t type, const char *name, uint64_t basicsize) {
    if (!type) return 0;
    const char *tp_name = (const char *)md_py_word(type + md_py.tp_name);
    return tp_name && strcmp(tp_name, name) == 0 &&
           (basicsize == 0 || md_py_word(type + md_py.tp_basicsize) == basicsize);
}

/* The version as major.minor: from Py_Version (0x030B02F0 is 3.11.2), else Py_GetVersion's text. */
static int find_version(unsigned *major, unsigned *minor) {
    const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version");
    if (hex) {
        *major = (unsigned)(*hex >> 24) & 0xFF;
        *minor = (unsigned)(*hex >> 16) & 0xFF;
        return 1;
    }
    const char *(*text)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
    return text && sscanf(text(), "%u.%u", major, minor) == 2;
}

/* Py_IsFinalizing (3.13) or _Py_IsFinalizing (3.7-3.12): an atomic read of the runtime's flag,
 * safe from any thread without the GIL. */
static int (*is_finalizing)(void);

int md_python_finalizing(void) { return is_finalizing && is_finalizing(); }

/* Runs in the constructor, before the program's main: the interpreter is mapped but not started. */
void md_python_init(void) {
    void *eval = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
    if (!eval) eval = dlsym(RTLD_DEFAULT, "PyEval_EvalFrameEx"); /* before 3.6: only to say so */
    if (!eval) return;                                           /* no CPython, or one loaded later with dlopen */
    is_finalizing = (int (*)(void))dlsym(RTLD_DEFAULT, "Py_IsFinalizing");
    if (!is_finalizing) is_finalizing = (int (*)(void))dlsym(RTLD_DEFAULT, "_Py_IsFinalizing");
    Dl_info info;
    const ElfW(Sym) *symbol = NULL;
    unsigned major = 0, minor = 0;
    char version[32];
    if (!find_version(&major, &minor)) {
        snprintf(version, sizeof version, "(version unknown)");
        set_unsupported(version, "Python frames are read for 3.11, 3.12 and 3.13 only");
    } else {
        snprintf(version, sizeof version, "%u.%u", major, minor);
    }
    if (!dladdr1(eval, &info, (void **)&symbol, RTLD_DL_SYMENT) || !symbol || !symbol->st_size) {
        /* Without its size no native frame can be told to be an evaluation: nothing to say either. */
        return;
    }
    md_py_eval_start = (uintptr_t)eval;
    md_py_eval_end = (uintptr_t)eval + symbol->st_size;
    md_cfi_anchor_code(md_py_eval_start, md_py_eval_end); /* the frames below the loop rarely change */
    if (!major) return;

    const char *attached = "_PyThreadState_UncheckedGet";
    if (major == 3 && minor == 11) {
        md_py = layout_311;
    } else if (major == 3 && minor == 12) {
        md_py = layout_312;
    } else if (major == 3 && minor == 13) {
        const void *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
        attached = "PyThreadState_GetUnchecked";
        if (!runtime || !layout_313(runtime, &md_py)) {
            set_unsupported(version, "its _Py_DebugOffsets are missing or not those of a default (GIL) build");
            return;
        }
    } else {
        set_unsupported(version, "Python frames are read for 3.11, 3.12 and 3.13 only");
        return;
    }
    md_py_attached_state = (md_py_thread_state_fn)dlsym(RTLD_DEFAULT, attached);
    md_py_gilstate_state = (md_py_thread_state_fn)dlsym(RTLD_DEFAULT, "PyGILState_GetThisThreadState");
    md_py_code_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyCode_Type");
    md_py_str_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyUnicode_Type");
    md_py_bytes_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyBytes_Type");
    if (!md_py_attached_state || !md_py_gilstate_state) {
        set_unsupported(version, "its thread-state functions are missing");
        return;
    }
    /* A code object's fixed part ends where its instructions start. */
    if (!type_is(md_py_code_type, "code", md_py.code_units) || !type_is(md_py_str_type, "str", 0) ||
        !type_is(md_py_bytes_type, "bytes", 0)) {
        set_unsupported(version, "its objects are not laid out as in a release build of that version");
        return;
    }
    md_py_alloc_init();
    md_py_ready = 1;
}

/*
 * A thread's Python frames, spliced into its native stack.
 *
 * Since 3.11 one native call of _PyEval_EvalFrameDefault runs several Python frames: a call from
 * Python to Python stays in the same native frame, a call through C (a builtin calling back into
 * Python, a generator resumed by C, a thread's start) enters a new one. The thread's frames are
 * a chain of _PyInterpreterFrames, innermost first, from its thread state; the frames one native
 * evaluation runs end with its entry: in 3.11 the frame marked is_entry, from 3.12 a frame of the
 * evaluation's own, owned by the C stack, that is not shown. So the first run of frames belongs to
 * the innermost native evaluation frame, the next run to the next one out, and so on. Frames the
 * native walk did not reach (it stopped early, or ran out of depth) follow the last native frame.
 *
 * Names and lines are read while the frames exist, from the code objects, and interned as source
 * frames (sources.c). Each thread caches, by code object and instruction, the source frame it
 * found, so a known line costs a few loads. The cache is 4-way, most recently used first: the
 * frames on every stack (a script's module, the runner) stay while many others come and go, and a
 * large module's line table, which is decoded from its start, is not decoded again for each
 * capture. An entry also keeps the code object's name, file and
 * line-table pointers and first line, so a code object freed and replaced at the same address by
 * a different one is not taken for it (one with the same name, file, line table and first line
 * would be: docs/tracker.md).
 *
 * Nothing calls into Python except the two thread-state lookups (python_layout.c), and every
 * object read is checked for its type first; a frame that is not what the layout says ends the
 * walk (the stack keeps its native frames from there).
 */
#include <pthread.h>
#include <string.h>

#include "python.h"

#define CACHE_BITS 8
#define CACHE_WAYS 4
#define MAX_FRAMES 4096    /* a longer chain is taken for a broken one */
#define FUNCTION_BYTES 256 /* longer names are cut */
#define FILE_BYTES 1024
#define MAX_LINETABLE (1u << 24)

typedef struct {
    uintptr_t code, instruction, qualname, filename, linetable; /* code 0: empty */
    uint32_t source;                                            /* the source frame's id */
    int32_t first_line;
} md_py_entry;

typedef struct {
    md_py_entry sets[1u << CACHE_BITS][CACHE_WAYS]; /* most recently used first */
    md_py_place place;                              /* where the last line was found */
} md_py_cache;

#define CACHE_GONE ((md_py_cache *)1) /* the thread's exit handler ran */

static __thread md_py_cache *cache __attribute__((tls_model("initial-exec")));

static inline uint8_t byte_at(uintptr_t at) { return *(const uint8_t *)at; }

/* The next frame a logged splice sees (see captures.c), or NULL when it does not log or its log is
 * full (then the capture is not kept). */
static inline md_py_seen *seen_next(md_capture_log *log) {
    if (!log) return NULL;
    if (log->seen_n < log->seen_capacity) return &log->seen[log->seen_n++];
    log->complete = 0;
    return NULL;
}

static inline int is_evaluation(uintptr_t return_address) {
    return return_address - 1 - md_py_eval_start < md_py_eval_end - md_py_eval_start;
}

/* The calling thread's state, or 0: the attached one if it is this thread's (in 3.11 it is the GIL
 * holder's, which may be another thread), else the one PyGILState keeps for the thread (a thread
 * that released the GIL around C work). Both are checked against pthread_self. The attached one
 * comes first because it is the one running (a thread in a subinterpreter has two); in 3.11 that
 * check reads another thread's state, which that thread could be freeing as it exits: a read of
 * heap memory glibc keeps mapped, whose thread_id then cannot be ours. */
static uintptr_t thread_state(void) {
    uintptr_t self = (uintptr_t)pthread_self();
    uintptr_t t = (uintptr_t)md_py_attached_state();
    if (t && !(t & 7) && md_py_word(t + md_py.tstate_thread_id) == self) return t;
    t = (uintptr_t)md_py_gilstate_state();
    if (t && !(t & 7) && md_py_word(t + md_py.tstate_thread_id) == self) return t;
    return 0;
}

/* The thread's innermost Python frame, or 0. */
static uintptr_t innermost_frame(void) {
    uintptr_t t = thread_state();
    if (!t) return 0;
    if (md_py.tstate_cframe < 0) return md_py_word(t + md_py.tstate_current_frame);
    uintptr_t cframe = md_py_word(t + (uint32_t)md_py.tstate_cframe);
    return cframe && !(cframe & 7) ? md_py_word(cframe + md_py.tstate_current_frame) : 0;
}

/* Names a frame's code at `unit` and interns it: its source frame id (UINT32_MAX when the table
 * is full), or -1 when the code object is not what it should be. */
static int64_t name_source(md_py_cache *c, uintptr_t code, long unit, uintptr_t qualname, uintptr_t filename,
                           uintptr_t linetable, int first_line) {
    char function[FUNCTION_BYTES], file[FILE_BYTES];
    int function_length = md_py_text(qualname, function, sizeof function);
    int file_length = md_py_text(filename, file, sizeof file);
    if (function_length < 0 || file_length < 0 || !linetable || (linetable & 7) ||
        md_py_word(linetable + md_py.ob_type) != md_py_bytes_type)
        return -1;
    intptr_t table_length = (intptr_t)md_py_word(linetable + md_py.ob_size);
    if (table_length < 0 || table_length > MAX_LINETABLE) return -1;
    intptr_t units = (intptr_t)md_py_word(code + md_py.ob_size);
    int line = unit >= units ? 0
                             : md_py_line_resumed(&c->place, code, (const uint8_t *)linetable + md_py.bytes_data,
                                                  (size_t)table_length, first_line, unit);
    return md_sources_intern("python", function, (size_t)function_length, file, (size_t)file_length,
                             line > 0 ? (uint32_t)line : 0);
}

/* The source frame of a Python frame: its id (UINT32_MAX when it cannot be kept), or -1 when the
 * frame does not look like one. */
static inline __attribute__((always_inline)) int64_t source_of(md_py_cache *c, uintptr_t frame, md_py_seen *seen) {
    uintptr_t code = md_py_word(frame + md_py.frame_code);
    if (!code || (code & 7) || md_py_word(code + md_py.ob_type) != md_py_code_type) return -1;
    uintptr_t instruction = md_py_word(frame + md_py.frame_instr);
    uintptr_t qualname = md_py_word(code + md_py.code_qualname), filename = md_py_word(code + md_py.code_filename);
    uintptr_t linetable = md_py_word(code + md_py.code_linetable);
    int first_line = *(const int32_t *)(code + md_py.code_firstlineno);
    if (seen) {
        seen->code = code;
        seen->instruction = instruction;
        seen->qualname = qualname;
        seen->filename = filename;
        seen->linetable = linetable;
        seen->first_line = first_line;
        seen->named = 1;
    }
    md_py_entry *set = c->sets[((code ^ (instruction << 7)) * 0x9E3779B97F4A7C15ull) >> (64 - CACHE_BITS)];
    for (int way = 0; way < CACHE_WAYS; way++) {
        md_py_entry *e = &set[way];
        if (MD_LIKELY(e->code == code && e->instruction == instruction && e->qualname == qualname &&
                      e->filename == filename && e->linetable == linetable && e->first_line == first_line)) {
            uint32_t found = e->source;
            if (way) { /* to the front */
                md_py_entry hit = *e;
                memmove(set + 1, set, (size_t)way * sizeof *set);
                set[0] = hit;
            }
            return found;
        }
    }
    long unit = ((long)instruction - (long)(code + md_py.code_units)) / 2;
    int64_t source = name_source(c, code, unit < -1 ? -1 : unit, qualname, filename, linetable, first_line);
    if (source < 0 || source == UINT32_MAX) return source;
    memmove(set + 1, set, (CACHE_WAYS - 1) * sizeof *set);
    set[0] = (md_py_entry){.code = code,
                           .instruction = instruction,
                           .qualname = qualname,
                           .filename = filename,
                           .linetable = linetable,
                           .source = (uint32_t)source,
                           .first_line = first_line};
    return source;
}

/* Where a walk of the chain is: the next frame (0 when done), frames left to visit and to keep, and
 * the log of what it read (NULL: none). */
typedef struct {
    md_py_cache *cache;
    md_capture_log *log;
    uintptr_t frame;
    int visits, keep;
} md_py_walk;

/* Appends to key[k..] the source keys of the Python frames one native evaluation runs, leaf first,
 * and moves the walk to the next evaluation's frames. Returns the new length. */
static inline __attribute__((always_inline)) int take_run(md_py_walk *w, uintptr_t *key, int k) {
    while (w->frame && w->keep > 0) {
        uintptr_t f = w->frame;
        if ((f & 7) || --w->visits < 0) break;
        uintptr_t previous = md_py_word(f + md_py.frame_previous);
        md_py_seen *seen = seen_next(w->log);
        if (seen) *seen = (md_py_seen){.previous = previous};
        if (md_py.frame_is_entry < 0) {
            uint8_t owner = byte_at(f + md_py.frame_owner);
            if (seen) seen->boundary = owner;
            if (owner == MD_PY_OWNED_BY_CSTACK) {
                w->frame = previous; /* the evaluation's entry frame: its run is over */
                return k;
            }
        }
        int64_t source = source_of(w->cache, f, seen);
        if (source < 0) break;
        if (source != UINT32_MAX) {
            key[k++] = MD_SOURCE_KEY(source);
            w->keep--;
        } else if (w->log) {
            w->log->complete = 0; /* the next capture may find room for it */
        }
        w->frame = previous;
        if (md_py.frame_is_entry >= 0) {
            uint8_t entry = byte_at(f + (uint32_t)md_py.frame_is_entry);
            if (seen) seen->boundary = entry;
            if (entry) return k;
        }
    }
    if (w->log && w->frame && w->keep > 0) w->log->complete = 0; /* a frame that is not one */
    w->frame = 0; /* the end, or a frame that is not one: the rest stays native */
    return k;
}

static md_py_cache *thread_cache(void) {
    md_py_cache *c = cache;
    if (MD_LIKELY(c && c != CACHE_GONE)) return c;
    if (c == CACHE_GONE) return NULL;
    c = md_map(sizeof *c);
    cache = c ? c : CACHE_GONE;
    return c;
}

/* md_python_splice with a log, or without (log NULL, innermost looked up here); compiled twice. */
static inline __attribute__((always_inline)) int splice(const uintptr_t *native, int n, int plain, uintptr_t *key,
                                                        uintptr_t innermost, md_capture_log *log) {
    if (!md_py_eval_end) return 0;
    if (plain > n) plain = n;
    int first = 0;
    while (first < plain && !is_evaluation(native[first]))
        first++;
    if (first == plain) return 0; /* no Python on this stack */
    if (!md_py_ready) {
        md_py_say_unsupported();
        return 0;
    }
    md_py_walk w = {.cache = thread_cache(), .log = log, .visits = MAX_FRAMES, .keep = md_config.depth};
    if (w.cache) w.frame = log ? innermost : innermost_frame();
    if (!w.frame) {
        if (log) log->complete = 0; /* not yet, or no longer, a Python thread */
        return 0;
    }
    if (MD_UNLIKELY(!atomic_load_explicit(&md_py_running, memory_order_relaxed)))
        atomic_store_explicit(&md_py_running, 1, memory_order_relaxed);
    /* Runs of native frames are copied whole; each evaluation frame gets its Python frames first. */
    memcpy(key, native, (size_t)first * sizeof *key);
    int k = first;
    for (int i = first; i < n;) {
        if (!w.frame) {
            memcpy(key + k, native + i, (size_t)(n - i) * sizeof *key);
            k += n - i;
            break;
        }
        k = take_run(&w, key, k); /* native[i] is an evaluation frame */
        int next = i + 1;
        while (next < plain && !is_evaluation(native[next]))
            next++;
        if (next == plain) next = n; /* the rest has no evaluation frame */
        memcpy(key + k, native + i, (size_t)(next - i) * sizeof *key);
        k += next - i;
        i = next;
    }
    while (w.frame)
        k = take_run(&w, key, k);
    return k;
}

/* Allocation-free (the cache is md_map'd once per thread); see tracker.h. */
int md_python_splice(const uintptr_t *native, int n, int plain, uintptr_t *key) {
    return splice(native, n, plain, key, 0, NULL);
}

int md_python_splice_logged(const uintptr_t *native, int n, int plain, uintptr_t *key, uintptr_t innermost,
                            md_capture_log *log) {
    return splice(native, n, plain, key, innermost, log);
}

int md_python_holds(uintptr_t frame, const md_py_seen *seen, int n) {
    /* The layout in locals: the loads below could alias md_py, which would be read again each time. */
    const uintptr_t previous_at = md_py.frame_previous, code_at = md_py.frame_code, instruction_at = md_py.frame_instr;
    const uintptr_t type_at = md_py.ob_type, qualname_at = md_py.code_qualname, filename_at = md_py.code_filename;
    const uintptr_t linetable_at = md_py.code_linetable, first_line_at = md_py.code_firstlineno;
    const uintptr_t code_type = md_py_code_type;
    const int owned = md_py.frame_is_entry < 0; /* 3.12+: the owner byte comes first */
    const uintptr_t boundary_at = owned ? md_py.frame_owner : (uint32_t)md_py.frame_is_entry;
    for (const md_py_seen *s = seen; s < seen + n; frame = s->previous, s++) {
        if (md_py_word(frame + previous_at) != s->previous) return 0;
        if (owned && byte_at(frame + boundary_at) != s->boundary) return 0;
        if (!s->named) continue;
        uintptr_t code = md_py_word(frame + code_at);
        if (code != s->code || md_py_word(code + type_at) != code_type ||
            md_py_word(frame + instruction_at) != s->instruction || md_py_word(code + qualname_at) != s->qualname ||
            md_py_word(code + filename_at) != s->filename || md_py_word(code + linetable_at) != s->linetable ||
            *(const int32_t *)(code + first_line_at) != s->first_line)
            return 0;
        if (!owned && byte_at(frame + boundary_at) != s->boundary) return 0;
    }
    return 1;
}

uintptr_t md_python_innermost(uintptr_t *instruction) {
    *instruction = 0;
    if (!md_py_eval_end || !md_py_ready) return 0;
    uintptr_t frame = innermost_frame();
    if (frame && !(frame & 7)) *instruction = md_py_word(frame + md_py.frame_instr);
    return frame;
}

void md_python_thread_exit(void) {
    if (cache && cache != CACHE_GONE) md_unmap(cache, sizeof *cache);
    cache = CACHE_GONE;
}

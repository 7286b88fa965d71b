/*
 * CPython's frames, shared by the three files that read them: python_layout.c finds the
 * interpreter and where its version keeps what the tracker reads, python_code.c reads names and
 * lines out of a code object, python_frames.c walks a thread's frames and splices them into
 * stacks. Only CPython 3.11, 3.12 and 3.13 are read (docs/tracker.md).
 */
#ifndef MEMDRIFT_PYTHON_H
#define MEMDRIFT_PYTHON_H

#include "tracker.h"

/* Where a CPython version keeps what the tracker reads: byte offsets into its structures. */
typedef struct {
    unsigned minor; /* 11, 12, 13 */
    /* PyThreadState */
    uint32_t tstate_thread_id;     /* pthread_self() of the thread it belongs to */
    int32_t tstate_cframe;         /* 3.11, 3.12: the _PyCFrame holding the current frame; -1 in 3.13 */
    uint32_t tstate_current_frame; /* in that _PyCFrame, or in the thread state itself (3.13) */
    /* _PyInterpreterFrame */
    uint32_t frame_code, frame_previous, frame_instr, frame_owner;
    int32_t frame_is_entry; /* 3.11: the first frame one native evaluation runs; -1 later */
    /* PyObject, PyVarObject, PyTypeObject */
    uint32_t ob_type, ob_size, tp_name, tp_basicsize;
    /* PyCodeObject */
    uint32_t code_filename, code_qualname, code_linetable, code_firstlineno, code_units;
    /* PyBytesObject; PyASCIIObject and PyCompactUnicodeObject, whose text follows them */
    uint32_t bytes_data, unicode_length, unicode_state, ascii_data, compact_data;
} md_py_layout;

/* From 3.12, each native evaluation pushes an entry frame of its own, owned by the C stack. */
#define MD_PY_OWNED_BY_CSTACK 3

/* ---- python_layout.c ---- */

/* The layout of the interpreter in this process; valid once md_py_ready is set. */
extern md_py_layout md_py;
extern int md_py_ready;
/* Where CPython's _PyEval_EvalFrameDefault lies, [start, end); 0 when the process has no CPython. */
extern uintptr_t md_py_eval_start, md_py_eval_end;
/* The type objects of code, str and bytes, which every object the walk reads is checked against. */
extern uintptr_t md_py_code_type, md_py_str_type, md_py_bytes_type;
/* The thread state attached to the calling thread (the GIL holder's in 3.11), and the one
 * PyGILState keeps for it: both lock-free reads of a global or a thread-specific value. */
typedef void *(*md_py_thread_state_fn)(void);
extern md_py_thread_state_fn md_py_attached_state, md_py_gilstate_state;
/* Says once on stderr that this CPython's frames are not read, and why. Async-signal-safe. */
void md_py_say_unsupported(void);
/* Set once a capture has found Python frames: the interpreter is initialized and running code. */
extern _Atomic int md_py_running;

/* ---- python_alloc.c ---- */

/* Notes CPython's allocators as they are before it starts (pymalloc's, in a release build). */
void md_py_alloc_init(void);

/* ---- python_code.c: pure reads of code objects; allocation-free, bounded ---- */

/* The line of code unit `unit` (an instruction's offset / 2) in a location table (co_linetable,
 * the format of CPython 3.11+), whose lines count from `first` (co_firstlineno): `first` for a
 * unit below 0 (a frame that has not started), 0 when the table has no line for the unit or is
 * malformed. Reads only table[0..length). */
int md_py_line(const uint8_t *table, size_t length, int first, long unit);
/* Where a decode of a location table stopped: the table's owner (its code object) and the table,
 * and the entry that holds the unit found: its byte offset, its first unit and the line before it. */
typedef struct {
    uintptr_t owner;
    const uint8_t *table;
    size_t length, at;
    long start, line;
    int first;
} md_py_place;
/* md_py_line, resuming from `place` when it is the same owner's same table and `unit` lies at or
 * after the entry it saved (a module body runs forward through a table that can be hundreds of
 * KiB: decoded from the start each time, its statements would cost the square of its size); saves
 * where this decode stopped. */
int md_py_line_resumed(md_py_place *place, uintptr_t owner, const uint8_t *table, size_t length, int first, long unit);
/* A compact str object's text as UTF-8 in out[0..capacity), cut at a whole character when
 * longer: its length, or -1 when `object` is not such a str. */
int md_py_text(uintptr_t object, char *out, size_t capacity);

static inline uintptr_t md_py_word(uintptr_t at) { return *(const uintptr_t *)at; }

#endif /* MEMDRIFT_PYTHON_H */

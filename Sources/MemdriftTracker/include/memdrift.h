/*
 * libmemdrift: the preloadable heap tracker of memdrift.
 *
 * This header is the tracker's exported ABI and the snapshot format's constants.
 * docs/FORMAT.md is the normative description of the format; the constants here
 * and in the Swift reader must match it.
 */
#ifndef MEMDRIFT_H
#define MEMDRIFT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Snapshot format (docs/FORMAT.md) ---- */

#define MEMDRIFT_FORMAT_MAGIC "MDRIFTSN"
#define MEMDRIFT_FORMAT_TRAILER_MAGIC "MDRIFTND"
#define MEMDRIFT_FORMAT_VERSION 2u
#define MEMDRIFT_FORMAT_HEADER_BYTES 96u

/* Header flags. */
#define MEMDRIFT_FLAG_FINAL 0x1u    /* the process was exiting or exec'ing */
#define MEMDRIFT_FLAG_SAMPLED 0x2u  /* figures per stack are scaled estimates */
#define MEMDRIFT_FLAG_OBSERVED 0x4u /* written by memdrift from /proc, not by the tracker: figures only */
#define MEMDRIFT_FLAG_DELTA 0x8u    /* only what changed since the previous snapshot of the series */

/* STACKS entry, version 2: bit 0 of the entry's depth field (depth << 1 | flag). */
#define MEMDRIFT_STACK_FRAMES_GIVEN 0x1u /* frames given by an earlier snapshot since the checkpoint */

/* Why a snapshot was taken. */
#define MEMDRIFT_REASON_INTERVAL 1u
#define MEMDRIFT_REASON_REQUEST 2u /* the session's trigger file was touched */
#define MEMDRIFT_REASON_EXIT 3u
#define MEMDRIFT_REASON_EXEC 4u
#define MEMDRIFT_REASON_API 5u   /* memdrift_snapshot_now() */
#define MEMDRIFT_REASON_START 6u /* the first snapshot of a process image, taken when tracking starts */

/* Section kinds. */
#define MEMDRIFT_SECTION_PROCESS 1u
#define MEMDRIFT_SECTION_FIGURES 2u
#define MEMDRIFT_SECTION_MODULES 3u
#define MEMDRIFT_SECTION_STACKS 4u
#define MEMDRIFT_SECTION_MAPPED 5u
#define MEMDRIFT_SECTION_SOURCE_FRAMES 6u  /* functions, files and lines named by a runtime (Python) */
#define MEMDRIFT_SECTION_SOURCE_SPLICES 7u /* where a stack's source frames go among its native ones */

/* Figure ids in the FIGURES section (bytes unless named a count). */
#define MEMDRIFT_FIG_VM_RSS 1u
#define MEMDRIFT_FIG_RSS_ANON 2u
#define MEMDRIFT_FIG_RSS_FILE 3u
#define MEMDRIFT_FIG_RSS_SHMEM 4u
#define MEMDRIFT_FIG_VM_SIZE 5u
#define MEMDRIFT_FIG_VM_HWM 6u
#define MEMDRIFT_FIG_MALLINFO_ARENA 10u
#define MEMDRIFT_FIG_MALLINFO_HBLKHD 11u
#define MEMDRIFT_FIG_MALLINFO_UORDBLKS 12u
#define MEMDRIFT_FIG_MALLINFO_FORDBLKS 13u
#define MEMDRIFT_FIG_MALLINFO_KEEPCOST 14u
#define MEMDRIFT_FIG_HEAP_LIVE_BYTES 20u
#define MEMDRIFT_FIG_HEAP_LIVE_COUNT 21u
#define MEMDRIFT_FIG_ALLOC_BYTES_TOTAL 22u
#define MEMDRIFT_FIG_ALLOC_COUNT_TOTAL 23u
#define MEMDRIFT_FIG_FREE_BYTES_TOTAL 24u
#define MEMDRIFT_FIG_FREE_COUNT_TOTAL 25u
#define MEMDRIFT_FIG_TRACKER_BYTES 30u
#define MEMDRIFT_FIG_STACK_COUNT 31u
#define MEMDRIFT_FIG_STACKS_DROPPED 32u
#define MEMDRIFT_FIG_THREADS_SEEN 34u
#define MEMDRIFT_FIG_TAG_BYTES 35u /* 33 (live-table entries) is no longer written */
#define MEMDRIFT_FIG_MAPPED_LIVE_BYTES 40u
#define MEMDRIFT_FIG_MAPPED_LIVE_COUNT 41u
#define MEMDRIFT_FIG_MAPPED_BYTES_TOTAL 42u
#define MEMDRIFT_FIG_MAPPED_COUNT_TOTAL 43u

/* Frame module index meaning "no module": the offset is an absolute address. */
#define MEMDRIFT_MODULE_UNKNOWN 0xFFFFFFFFu

/* ---- Exported functions ---- */

/*
 * Writes a snapshot of the calling process now, synchronously.
 * Returns 0 on success, -1 when tracking is off or the write failed.
 * Thread-safe; not async-signal-safe.
 */
int memdrift_snapshot_now(void);

/* Non-zero while the tracker records this process. Thread-safe, async-signal-safe. */
int memdrift_is_active(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMDRIFT_H */

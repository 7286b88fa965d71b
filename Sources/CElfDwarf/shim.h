#ifndef MEMDRIFT_CELFDWARF_SHIM_H
#define MEMDRIFT_CELFDWARF_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <libelf.h>
#include <gelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <elfutils/libdwelf.h>

/* Itanium C++ ABI demangler from libstdc++; declared here because <cxxabi.h> is C++-only. */
char *__cxa_demangle(const char *mangled_name, char *output_buffer, size_t *length, int *status);

/* Exported by libswiftCore with C linkage; declared in C so Swift calls it with the C convention. */
char *swift_demangle(const char *mangled_name, size_t mangled_name_length,
                     char *output_buffer, size_t *output_buffer_size, uint32_t flags);

/* EV_CURRENT and friends are macros over enum values that Swift does not always import as integers. */
static inline unsigned memdrift_elf_init(void) {
    return elf_version(EV_CURRENT) != EV_NONE;
}

/* ELF64_ST_TYPE is a macro Swift cannot call. */
static inline unsigned memdrift_sym_type(unsigned char info) {
    return GELF_ST_TYPE(info);
}

static inline unsigned memdrift_sym_bind(unsigned char info) {
    return GELF_ST_BIND(info);
}

#endif

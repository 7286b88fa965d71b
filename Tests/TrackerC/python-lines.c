/*
 * Checks python_code.c's reading of CPython location tables against the interpreter's own: reads
 * records from stdin, one per code object, as PythonTests writes them with a real interpreter:
 *   FIRSTLINENO LINETABLE-HEX UNITS LINE LINE ...
 * (the line of each code unit as co_lines() gives it, 0 for none), decodes the table at every
 * unit and at unit -1 (a frame that has not started), from the start and resumed from the unit
 * before (md_py_line_resumed, as a module body running forward asks), then unit 0 resumed from the
 * last one (which must start over), and prints a summary; exits 1 on the first disagreement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python.h"

/* What python_layout.c would provide; md_py_text is not exercised here. */
md_py_layout md_py;
uintptr_t md_py_str_type;

int main(void) {
    static char hex[1 << 22];
    static uint8_t table[1 << 21];
    long codes = 0, units_checked = 0;
    int first;
    long units;
    while (scanf("%d %4194303s %ld", &first, hex, &units) == 3) {
        size_t length = strlen(hex) / 2;
        if (strcmp(hex, "-") == 0) length = 0;
        for (size_t i = 0; i < length; i++) {
            unsigned byte;
            sscanf(hex + 2 * i, "%2x", &byte);
            table[i] = (uint8_t)byte;
        }
        if (md_py_line(table, length, first, -1) != first) {
            fprintf(stderr, "python-lines: code object %ld: unit -1 is not line %d\n", codes, first);
            return 1;
        }
        md_py_place place = {0};
        int first_unit_line = 0;
        for (long unit = 0; unit < units; unit++) {
            int expected, got = md_py_line(table, length, first, unit);
            int resumed = md_py_line_resumed(&place, (uintptr_t)codes + 1, table, length, first, unit);
            if (scanf("%d", &expected) != 1) {
                fprintf(stderr, "python-lines: code object %ld: input ends early\n", codes);
                return 1;
            }
            if (got != expected || resumed != expected) {
                fprintf(stderr,
                        "python-lines: code object %ld (first line %d): unit %ld is line %d, not %d (resumed: %d)\n",
                        codes, first, unit, expected, got, resumed);
                return 1;
            }
            if (unit == 0) first_unit_line = expected;
            units_checked++;
        }
        if (units > 0 && md_py_line_resumed(&place, (uintptr_t)codes + 1, table, length, first, 0) != first_unit_line) {
            fprintf(stderr, "python-lines: code object %ld: unit 0 after the last is not line %d\n", codes,
                    first_unit_line);
            return 1;
        }
        codes++;
    }
    printf("python-lines: %ld code objects, %ld units agree\n", codes, units_checked);
    return codes > 0 ? 0 : 1;
}

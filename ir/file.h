/*
 * file.h - reading a whole file into memory: the one reader behind `kiln opt`, `kiln compile` of an
 * IR file, the ptxas bridge and the tests. It lives in the lowest layer so that every layer above
 * can use it (runtime/ stands alone and keeps its own).
 */
#ifndef KILN_IR_FILE_H
#define KILN_IR_FILE_H

#include <stddef.h>
#include <stdio.h>

/* The whole of path, NUL-terminated (malloc'd; *len, if non-NULL, gets the byte count without the
 * NUL). On failure NULL and "cannot read PATH: REASON" in err, REASON being strerror's text: a
 * missing file, a directory, no permission all say which. */
char *ir_read_file(const char *path, size_t *len, char *err, size_t errn);

/* The rest of an open stream (stdin), named `name` in the message; same contract. */
char *ir_read_stream(FILE *f, const char *name, size_t *len, char *err, size_t errn);

#endif

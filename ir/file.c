/*
 * file.c - reading a whole file or stream into one NUL-terminated buffer. Contracts in file.h.
 *
 * fopen succeeds on a directory on Linux; the read then fails with EISDIR, which ferror and errno
 * report like any other read error.
 */
#include "file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *fail(const char *name, int e, char *err, size_t errn) {
  snprintf(err, errn, "cannot read %s: %s", name, strerror(e));
  return NULL;
}

char *ir_read_stream(FILE *f, const char *name, size_t *len, char *err, size_t errn) {
  size_t n = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  if (!buf) return fail(name, ENOMEM, err, errn);
  errno = 0;
  for (size_t k; (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += k;
    if (cap - n - 1 > 0) continue;
    char *bigger = realloc(buf, cap *= 2);
    if (!bigger) {
      free(buf);
      return fail(name, ENOMEM, err, errn);
    }
    buf = bigger;
  }
  if (ferror(f)) {
    int e = errno ? errno : EIO;
    free(buf);
    return fail(name, e, err, errn);
  }
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

char *ir_read_file(const char *path, size_t *len, char *err, size_t errn) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail(path, errno, err, errn);
  char *s = ir_read_stream(f, path, len, err, errn);
  fclose(f);
  return s;
}

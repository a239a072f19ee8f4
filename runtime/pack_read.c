/*
 * pack_read.c - opening a pack: the container (header, section table, checksums) and the hand-off to
 * the manifest parser. docs/packs.md describes the bytes; this file is their reader.
 *
 * 1. Read the whole file (a regular file only).
 * 2. The first 16 bytes: magic, format version, section count. The version is checked before
 *    anything else, so that a pack of a newer format is refused by name even if its header grew.
 * 3. The header's checksum (crc32 over bytes 0..15 and the section table), then each section: kind,
 *    bounds (in order, 8-byte aligned, no overlap, zero padding, the file ends with the last one)
 *    and its crc32.
 * 4. The manifest (section 0) is parsed; every image it names must exist.
 * Any failure frees everything: a caller never gets a handle to a pack that failed a check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pack_int.h"

enum { HEADER = 24, ENTRY = 24, MAXSECTIONS = 1 << 16 };

static uint32_t get32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t get64(const unsigned char *b) { return get32(b) | (uint64_t)get32(b + 4) << 32; }

__attribute__((format(printf, 4, 5))) static int fail(const kiln_pack *p, char *err, size_t errn,
                                                      const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(err, errn, "%s: %s", p->path, msg);
  return -1;
}
#define FAIL(...) fail(p, err, errn, __VA_ARGS__)

/* Step 1. */
static int read_all(kiln_pack *p, char *err, size_t errn) {
  int fd = open(p->path, O_RDONLY | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    int e = errno;
    if (fd >= 0) close(fd);
    return FAIL("cannot open: %s", strerror(e));
  }
  if (!S_ISREG(st.st_mode)) return close(fd), FAIL("not a regular file");
  p->size = (size_t)st.st_size;
  p->file = malloc(p->size ? p->size : 1);
  if (!p->file) return close(fd), FAIL("out of memory reading %zu bytes", p->size);
  size_t got = 0;
  while (got < p->size) {
    ssize_t n = read(fd, p->file + got, p->size - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got != p->size) return FAIL("read %zu of %zu bytes", got, p->size);
  return 0;
}

/* Step 2. */
static int check_front(kiln_pack *p, uint32_t *nsect, char *err, size_t errn) {
  if (p->size < 16 || memcmp(p->file, "KILNPACK", 8))
    return FAIL("not a kiln pack (no KILNPACK magic at byte 0)");
  uint32_t v = get32(p->file + 8);
  if (v == 0 || v > KILN_PACK_FORMAT)
    return FAIL("pack format %u; this loader reads formats 1 to %d: a newer libkiln_rt is needed", v,
                KILN_PACK_FORMAT);
  p->format = (int)v;
  *nsect = get32(p->file + 12);
  if (*nsect < 1 || *nsect > MAXSECTIONS) return FAIL("%u sections (expected 1 to %d)", *nsect, MAXSECTIONS);
  if (p->size < HEADER + (size_t)*nsect * ENTRY)
    return FAIL("truncated: %zu bytes, shorter than its section table", p->size);
  return 0;
}

uint32_t pack_crc32(uint32_t crc, const void *data, size_t n) {
  const unsigned char *b = data;
  uLong c = crc;
  for (; n > 0x40000000; n -= 0x40000000, b += 0x40000000) c = crc32(c, b, 0x40000000u);
  return (uint32_t)crc32(c, b, (uInt)n);
}

static uint32_t header_crc(const kiln_pack *p, uint32_t nsect) {
  return pack_crc32(pack_crc32(0, p->file, 16), p->file + HEADER, (size_t)nsect * ENTRY);
}

/* Step 3 for section i, which must start at or after *pos. */
static int check_section(kiln_pack *p, uint32_t i, size_t *pos, char *err, size_t errn) {
  const unsigned char *e = p->file + HEADER + (size_t)i * ENTRY;
  uint32_t kind = get32(e), crc = get32(e + 4);
  uint64_t off = get64(e + 8), size = get64(e + 16);
  const char *name = i == 0 ? "manifest" : "image";
  if (kind != (i == 0 ? PACK_SECT_MANIFEST : PACK_SECT_IMAGE))
    return FAIL("section %u has kind %u, expected the %s kind", i, kind, name);
  if (off % 8 || off < *pos || off - *pos >= 8 || off > p->size || size > p->size - off)
    return FAIL("section %u (%s) lies outside the file or out of order (offset %llu, %llu bytes): truncated "
                "or corrupt",
                i, name, (unsigned long long)off, (unsigned long long)size);
  for (size_t b = *pos; b < off; b++)
    if (p->file[b]) return FAIL("padding byte %zu before section %u is not zero", b, i);
  if (pack_crc32(0, p->file + off, size) != crc) return FAIL("section %u (%s) fails its checksum", i, name);
  *pos = off + size;
  if (i > 0) p->img[i - 1] = (pack_image){p->file + off, size};
  return 0;
}

static int check_sections(kiln_pack *p, uint32_t nsect, char *err, size_t errn) {
  if (get32(p->file + 16) != header_crc(p, nsect)) return FAIL("the header fails its checksum");
  if (get32(p->file + 20)) return FAIL("reserved header bytes 20..23 are not zero");
  p->nimages = (int)nsect - 1;
  p->img = calloc(nsect, sizeof *p->img);
  if (!p->img) return FAIL("out of memory");
  size_t pos = HEADER + (size_t)nsect * ENTRY;
  for (uint32_t i = 0; i < nsect; i++)
    if (check_section(p, i, &pos, err, errn)) return -1;
  if (pos != p->size) return FAIL("%zu bytes after the last section (expected none)", p->size - pos);
  return 0;
}

/* Step 4: a NUL-terminated copy of section 0 for the parser to cut up. */
static int load_manifest(kiln_pack *p, char *err, size_t errn) {
  const unsigned char *e = p->file + HEADER;
  uint64_t off = get64(e + 8), size = get64(e + 16);
  if (memchr(p->file + off, 0, size)) return FAIL("the manifest holds a NUL byte");
  p->manifest = malloc(size + 1);
  if (!p->manifest) return FAIL("out of memory");
  memcpy(p->manifest, p->file + off, size);
  p->manifest[size] = 0;
  char msg[512];
  if (pack_manifest_parse(p, msg, sizeof msg)) return FAIL("manifest %s", msg);
  return 0;
}

int kiln_pack_open(const char *path, kiln_pack **out, char *err, size_t errn) {
  *out = NULL;
  kiln_pack *p = calloc(1, sizeof *p);
  if (!p || !(p->path = strdup(path))) {
    free(p);
    snprintf(err, errn, "%s: out of memory", path);
    return -1;
  }
  pthread_mutex_init(&p->lock, NULL);
  uint32_t nsect = 0;
  if (read_all(p, err, errn) || check_front(p, &nsect, err, errn) || check_sections(p, nsect, err, errn) ||
      load_manifest(p, err, errn)) {
    kiln_pack_close(p);
    return -1;
  }
  *out = p;
  return 0;
}

void kiln_pack_close(kiln_pack *p) {
  if (!p) return;
  for (int k = 0; k < p->nkernels; k++)
    for (int v = 0; v < p->k[k].nvariants; v++)
      for (int d = 0; d < PACK_MAXDEVICES; d++) {
        rt_kernel_free(p->k[k].v[v].loaded[d]);
        rt_kernel_free(p->k[k].v[v].aloaded[d]);
      }
  for (int d = 0; d < PACK_MAXDEVICES; d++) rt_device_close(p->dev[d]);
  for (int k = 0; k < p->nkernels; k++) free(p->k[k].v);
  free(p->k);
  free(p->img);
  free(p->manifest);
  free(p->file);
  pthread_mutex_destroy(&p->lock);
  free(p->path);
  free(p);
}

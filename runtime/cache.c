/*
 * cache.c - the on-disk kernel cache: compiled PTX keyed by a hash of everything that produced it.
 *
 * Key. 128-bit FNV-1a (Fowler, Noll, Vo; offset basis 0x6c62272e07bb014262b821756295c58d, prime
 * 2^88 + 0x13b): for each byte, h ^= byte, then h *= prime mod 2^128. The key hashes, in order, the
 * IR text, target name, options string, LLVM version and kiln version, each preceded by its length
 * as 8 little-endian bytes, so ("ab","c") and ("a","bc") differ. FNV is not a cryptographic hash:
 * the cache trusts its own directory, it only needs distinct inputs to get distinct keys.
 *
 * Entry. One file per key, named <32 hex digits>.ptx, holding
 *     "kiln-cache 1 <key hex> <payload length> <payload FNV-1a-128 hex>\n" then the payload.
 * A reader checks the magic, the version, that the key is the one it asked for, that exactly
 * <length> bytes follow and that their checksum matches; any failure is a miss. A writer writes a
 * temporary file in the same directory and rename()s it over the entry: rename is atomic within a
 * file system, so a reader sees the old entry, the new one, or none, never a mixture; a crash
 * mid-write leaves at worst a stray temporary file or a short entry the checksum rejects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"

enum { MAX_ENTRY = 256 << 20 }; /* refuse to read anything larger: not a kernel */

/* ---- the hash ---- */

static const uint64_t FNV_PRIME_LO = 0x13b; /* prime = 2^88 + 0x13b */

rt_cache_key rt_fnv128_init(void) { return (rt_cache_key){0x6c62272e07bb0142ull, 0x62b821756295c58dull}; }

/* h * (2^88 + 0x13b) mod 2^128, in two 64-bit halves. */
static rt_cache_key fnv_mul(rt_cache_key h) {
  uint64_t lo_hi32 = h.lo >> 32, lo_lo32 = h.lo & 0xffffffffu;
  uint64_t carry =
      (lo_hi32 * FNV_PRIME_LO + ((lo_lo32 * FNV_PRIME_LO) >> 32)) >> 32; /* high half of lo*0x13b */
  rt_cache_key r;
  r.lo = h.lo * FNV_PRIME_LO;
  r.hi = h.hi * FNV_PRIME_LO + carry + (h.lo << 24); /* h * 2^88 contributes lo << (88 - 64) */
  return r;
}

rt_cache_key rt_fnv128(rt_cache_key h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h.lo ^= p[i];
    h = fnv_mul(h);
  }
  return h;
}

static rt_cache_key hash_field(rt_cache_key h, const char *s) {
  if (!s) s = "";
  uint64_t n = strlen(s);
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
  h = rt_fnv128(h, len, sizeof len);
  return rt_fnv128(h, s, n);
}

rt_cache_key rt_cache_key_make(const char *ir_text, const char *target, const char *options,
                               const char *llvm_version, const char *kiln_version) {
  rt_cache_key h = rt_fnv128_init();
  h = hash_field(h, ir_text);
  h = hash_field(h, target);
  h = hash_field(h, options);
  h = hash_field(h, llvm_version);
  return hash_field(h, kiln_version);
}

void rt_cache_key_hex(rt_cache_key key, char out[33]) {
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)key.hi, (unsigned long long)key.lo);
}

/* ---- where entries live ---- */

int rt_cache_dir(char *buf, size_t n) {
  const char *d = getenv("KILN_CACHE_DIR");
  if (d && *d) return snprintf(buf, n, "%s", d) < (int)n ? 0 : -1;
  d = getenv("XDG_CACHE_HOME");
  if (d && *d) return snprintf(buf, n, "%s/kiln", d) < (int)n ? 0 : -1;
  d = getenv("HOME");
  if (d && *d) return snprintf(buf, n, "%s/.cache/kiln", d) < (int)n ? 0 : -1;
  return -1;
}

static int entry_path(rt_cache_key key, char *buf, size_t n) {
  char dir[4096], hex[33];
  if (rt_cache_dir(dir, sizeof dir)) return -1;
  rt_cache_key_hex(key, hex);
  return snprintf(buf, n, "%s/%s.ptx", dir, hex) < (int)n ? 0 : -1;
}

/* mkdir -p: every missing component of path. */
static int make_dirs(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* ---- reading ---- */

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 65536;
      char *nb = cap <= MAX_ENTRY ? realloc(buf, cap) : NULL;
      if (!nb) goto fail;
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) goto fail;
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
fail:
  free(buf);
  fclose(f);
  return NULL;
}

/* Checks the header against key; returns the payload offset, or -1 if the entry is not valid. */
static long check_entry(const char *buf, size_t len, rt_cache_key key) {
  char want[33], hex[33], sum[33];
  unsigned long long plen;
  int hdr = 0;
  rt_cache_key_hex(key, want);
  if (sscanf(buf, "kiln-cache 1 %32s %llu %32s\n%n", hex, &plen, sum, &hdr) != 3 || hdr == 0) return -1;
  if (buf[hdr - 1] != '\n' || strcmp(hex, want)) return -1;
  if ((size_t)hdr > len || plen != len - (size_t)hdr) return -1;
  char got[33];
  rt_cache_key_hex(rt_fnv128(rt_fnv128_init(), buf + hdr, plen), got);
  if (strcmp(got, sum)) return -1;
  if (memchr(buf + hdr, 0, plen)) return -1; /* the payload is text */
  return hdr;
}

char *rt_cache_get(rt_cache_key key) {
  char path[4200];
  size_t len;
  if (entry_path(key, path, sizeof path)) return NULL;
  char *buf = read_file(path, &len);
  if (!buf) return NULL;
  long off = check_entry(buf, len, key);
  if (off < 0) {
    free(buf);
    return NULL;
  }
  memmove(buf, buf + off, len - (size_t)off + 1);
  return buf;
}

/* ---- writing ---- */

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int rt_cache_put(rt_cache_key key, const char *text) {
  char dir[4096], path[4200], tmp[4200], hex[33], sum[33], hdr[160];
  if (rt_cache_dir(dir, sizeof dir) || make_dirs(dir)) return -1;
  rt_cache_key_hex(key, hex);
  size_t n = strlen(text);
  rt_cache_key_hex(rt_fnv128(rt_fnv128_init(), text, n), sum);
  int hn = snprintf(hdr, sizeof hdr, "kiln-cache 1 %s %zu %s\n", hex, n, sum);
  snprintf(path, sizeof path, "%s/%s.ptx", dir, hex);
  if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, hex) >= (int)sizeof tmp) return -1;
  int fd = mkstemp(tmp);
  if (fd < 0) return -1;
  int bad = write_all(fd, hdr, (size_t)hn) || write_all(fd, text, n);
  bad |= close(fd) != 0;
  if (!bad && rename(tmp, path) == 0) return 0;
  unlink(tmp);
  return -1;
}

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
 *
 * Only regular files are entries: a reader opens with O_NOFOLLOW|O_NONBLOCK and checks fstat, so a
 * symlink is refused and a FIFO or device planted under an entry's name is a miss, never a hang.
 * Entries are created with mode 0666 less the process's umask (0644 typically), so that users who
 * share a cache folder read each other's entries.
 *
 * Size. After a write the folder is scanned, at most once every 10 seconds (a scan stats every
 * entry: tens of milliseconds for thousands; the stamp file .trim-stamp records the last one): temporary
 * files older than an hour (left by a killed writer) are removed, and while the entries together
 * exceed $KILN_CACHE_MAX_MB (default 512) MiB the least recently used are removed, oldest first.
 * Between scans the folder can run over the cap by what was written in those seconds. A hit sets the entry's
 * modification time to now, so the modification time orders entries by last use (atime is unreliable under
 * relatime and noatime). The entry just written is never removed: an entry larger than the whole cap
 * still serves its next compile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

enum {
  MAX_ENTRY = 256 << 20,  /* refuse to read anything larger: not a kernel */
  DEFAULT_MAX_MB = 512,   /* the size cap when $KILN_CACHE_MAX_MB is not set */
  LIMIT_MAX_MB = 1 << 20, /* the largest cap accepted: 1 TiB */
  STALE_TEMP_S = 3600,    /* a temporary file this old belongs to a writer that died */
  TRIM_EVERY_S = 10,      /* the folder is scanned at most this often */
};

#define TRIM_STAMP ".trim-stamp" /* its modification time: the folder's last scan */

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

int rt_cache_max_bytes(uint64_t *out, char *err, size_t errn) {
  const char *v = getenv("KILN_CACHE_MAX_MB");
  uint64_t mb = 0;
  if (!v || !*v) mb = DEFAULT_MAX_MB;
  for (const char *p = v; p && *p && mb <= LIMIT_MAX_MB; p++)
    mb = *p >= '0' && *p <= '9' ? mb * 10 + (uint64_t)(*p - '0') : LIMIT_MAX_MB + 1;
  if (mb < 1 || mb > LIMIT_MAX_MB) {
    snprintf(err, errn, "KILN_CACHE_MAX_MB='%s': expected a whole number of MiB from 1 to %d", v,
             (int)LIMIT_MAX_MB);
    return -1;
  }
  *out = mb << 20;
  return 0;
}

static int entry_path(rt_cache_key key, char *buf, size_t n) {
  char dir[4096], hex[33];
  if (rt_cache_dir(dir, sizeof dir)) return -1;
  rt_cache_key_hex(key, hex);
  return snprintf(buf, n, "%s/%s.ptx", dir, hex) < (int)n ? 0 : -1;
}

/* mkdir -p: every missing component of path, mode 0777 less the umask. */
static int make_dirs(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0777) && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

static int is_hex32(const char *s) {
  for (int i = 0; i < 32; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

/* "<32 hex>.ptx" */
static int is_entry_name(const char *s) { return strlen(s) == 36 && is_hex32(s) && !strcmp(s + 32, ".ptx"); }

/* ".<32 hex>.XXXXXX", as written by open_temp */
static int is_temp_name(const char *s) {
  return strlen(s) == 40 && s[0] == '.' && is_hex32(s + 1) && s[33] == '.';
}

/* ---- reading ---- */

/* The whole of an open regular file, NUL-terminated; NULL for anything else. */
static char *read_fd(int fd, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_ENTRY) return NULL;
  size_t want = (size_t)st.st_size, n = 0;
  char *buf = malloc(want + 1);
  if (!buf) return NULL;
  while (n < want) {
    ssize_t got = read(fd, buf + n, want - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    n += (size_t)got;
  }
  buf[n] = 0;
  *len = n;
  return buf;
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
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *buf = read_fd(fd, &len);
  long off = buf ? check_entry(buf, len, key) : -1;
  if (off >= 0) futimens(fd, NULL); /* a hit: most recently used (best effort: another user's entry) */
  close(fd);
  if (off < 0) {
    free(buf);
    return NULL;
  }
  memmove(buf, buf + off, len - (size_t)off + 1);
  return buf;
}

/* ---- trimming: stale temporary files, then least recently used entries over the cap ---- */

typedef struct {
  char name[40];
  uint64_t bytes;
  struct timespec used;
} cache_file;

static int older_first(const void *pa, const void *pb) {
  const cache_file *a = pa, *b = pb;
  if (a->used.tv_sec != b->used.tv_sec) return a->used.tv_sec < b->used.tv_sec ? -1 : 1;
  if (a->used.tv_nsec != b->used.tv_nsec) return a->used.tv_nsec < b->used.tv_nsec ? -1 : 1;
  return strcmp(a->name, b->name);
}

/* Reads the folder: removes stale temporary files, lists the entries (regular files only). Returns
 * the count, with the list in *out (malloc'd) and their total size in *total; -1 if unreadable. */
static int list_entries(DIR *d, cache_file **out, uint64_t *total) {
  time_t now = time(NULL);
  cache_file *v = NULL;
  int n = 0, cap = 0;
  *total = 0;
  for (struct dirent *e; (e = readdir(d));) {
    struct stat st;
    int entry = is_entry_name(e->d_name), temp = is_temp_name(e->d_name);
    if (!entry && !temp) continue;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode)) continue;
    if (temp) {
      if (now - st.st_mtim.tv_sec > STALE_TEMP_S) unlinkat(dirfd(d), e->d_name, 0);
      continue;
    }
    if (n == cap) {
      cache_file *nv = realloc(v, sizeof *v * (size_t)(cap = cap ? cap * 2 : 64));
      if (!nv) return free(v), -1;
      v = nv;
    }
    snprintf(v[n].name, sizeof v[n].name, "%s", e->d_name);
    v[n].bytes = (uint64_t)st.st_size;
    v[n].used = st.st_mtim;
    *total += v[n++].bytes;
  }
  *out = v;
  return n;
}

/* 1 when the folder is due a scan: its stamp file is missing, not a regular file, older than
 * TRIM_EVERY_S or in the future. The stamp is renewed before the scan, so that concurrent writers
 * do not all scan; one that cannot renew it (another user's stamp) replaces it. */
static int trim_due(const char *dir) {
  char stamp[4200];
  struct stat st;
  time_t now = time(NULL);
  if (snprintf(stamp, sizeof stamp, "%s/" TRIM_STAMP, dir) >= (int)sizeof stamp) return 0;
  int have = lstat(stamp, &st) == 0;
  if (have && S_ISREG(st.st_mode) && st.st_mtim.tv_sec <= now && now - st.st_mtim.tv_sec < TRIM_EVERY_S)
    return 0;
  if (!have || !S_ISREG(st.st_mode) || utimensat(AT_FDCWD, stamp, NULL, AT_SYMLINK_NOFOLLOW)) {
    unlink(stamp);
    int fd = open(stamp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) close(fd);
  }
  return 1;
}

/* Removes stale temporary files, then entries least recently used first until the rest fit in
 * max_bytes; `keep` (an entry name) is never removed. Best effort: failures leave files in place. */
static void trim(const char *dir, uint64_t max_bytes, const char *keep) {
  if (!trim_due(dir)) return;
  DIR *d = opendir(dir);
  if (!d) return;
  cache_file *v = NULL;
  uint64_t total;
  int n = list_entries(d, &v, &total);
  if (n > 0 && total > max_bytes) {
    qsort(v, (size_t)n, sizeof *v, older_first);
    for (int i = 0; i < n && total > max_bytes; i++) {
      if (strcmp(v[i].name, keep) == 0) continue;
      if (unlinkat(dirfd(d), v[i].name, 0) == 0 || errno == ENOENT) total -= v[i].bytes;
    }
  }
  free(v);
  closedir(d);
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

/* Creates "<dir>/.<hex>.XXXXXX" with a fresh random suffix, mode 0666 less the umask (mkstemp would
 * give 0600 and shut other users out of a shared cache). Returns the descriptor, or -1. */
static int open_temp(const char *dir, const char *hex, char *tmp, size_t n) {
  static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static unsigned counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40);
  for (int attempt = 0; attempt < 100; attempt++) {
    x += 0x9e3779b97f4a7c15ull * (1 + __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    uint64_t z = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    char suffix[7];
    for (int i = 0; i < 6; i++, z /= 62) suffix[i] = digits[z % 62];
    suffix[6] = 0;
    if (snprintf(tmp, n, "%s/.%s.%s", dir, hex, suffix) >= (int)n) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

int rt_cache_put(rt_cache_key key, const char *text) {
  char dir[4096], path[4200], tmp[4200], hex[33], sum[33], hdr[160], name[40], err[160];
  uint64_t max_bytes;
  if (rt_cache_max_bytes(&max_bytes, err, sizeof err)) return -1;
  if (rt_cache_dir(dir, sizeof dir) || make_dirs(dir)) return -1;
  rt_cache_key_hex(key, hex);
  size_t n = strlen(text);
  rt_cache_key_hex(rt_fnv128(rt_fnv128_init(), text, n), sum);
  int hn = snprintf(hdr, sizeof hdr, "kiln-cache 1 %s %zu %s\n", hex, n, sum);
  if (snprintf(path, sizeof path, "%s/%s.ptx", dir, hex) >= (int)sizeof path) return -1;
  int fd = open_temp(dir, hex, tmp, sizeof tmp);
  if (fd < 0) return -1;
  int bad = write_all(fd, hdr, (size_t)hn) || write_all(fd, text, n);
  bad |= close(fd) != 0;
  if (bad || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  snprintf(name, sizeof name, "%s.ptx", hex);
  trim(dir, max_bytes, name);
  return 0;
}

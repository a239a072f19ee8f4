/*
 * test_cache.c - the on-disk kernel cache: the hash against the FNV reference vectors, keys that
 * change with every input, put/get round trips, entries that must be rejected (corrupt, short,
 * long, wrong key, garbage), directory resolution, and concurrent writers never tearing an entry.
 * Hardening: a FIFO or symlink under an entry's name is a quick miss, stale temporary files are
 * removed and fresh ones kept, entry modes follow the umask, the least recently used entries go
 * first under the size cap, and a bad $KILN_CACHE_MAX_MB is refused naming the variable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/rt.h"
#include "test.h"

static char *root; /* this run's scratch folder */

static void hex_of(const char *s, char out[33]) {
  rt_cache_key_hex(rt_fnv128(rt_fnv128_init(), s, strlen(s)), out);
}

static void test_hash_vectors(void) {
  char h[33];
  hex_of("", h);
  CHECK(!strcmp(h, "6c62272e07bb014262b821756295c58d")); /* the offset basis */
  hex_of("a", h);
  CHECK(!strcmp(h, "d228cb696f1a8caf78912b704e4a8964"));
  hex_of("foobar", h);
  CHECK(!strcmp(h, "343e1662793c64bf6f0d3597ba446f18"));
  /* incremental hashing equals one pass */
  rt_cache_key a = rt_fnv128(rt_fnv128(rt_fnv128_init(), "foo", 3), "bar", 3);
  rt_cache_key b = rt_fnv128(rt_fnv128_init(), "foobar", 6);
  CHECK(a.hi == b.hi && a.lo == b.lo);
}

static int key_eq(rt_cache_key a, rt_cache_key b) { return a.hi == b.hi && a.lo == b.lo; }

static void test_key_inputs(void) {
  const char *base[5] = {"kernel @k() {}", "sm_90a", "backend=0", "22.1.8", "0.1.0"};
  rt_cache_key k0 = rt_cache_key_make(base[0], base[1], base[2], base[3], base[4]);
  CHECK(key_eq(k0, rt_cache_key_make(base[0], base[1], base[2], base[3], base[4])));
  for (int i = 0; i < 5; i++) {
    const char *v[5];
    memcpy(v, base, sizeof v);
    v[i] = "changed";
    CHECK(!key_eq(k0, rt_cache_key_make(v[0], v[1], v[2], v[3], v[4])));
  }
  /* field boundaries count: ("ab","c") is not ("a","bc") */
  CHECK(!key_eq(rt_cache_key_make("ab", "c", "", "", ""), rt_cache_key_make("a", "bc", "", "", "")));
  char hex[33];
  rt_cache_key_hex(k0, hex);
  CHECK(strlen(hex) == 32 && strspn(hex, "0123456789abcdef") == 32);
}

static void use_dir(const char *sub) {
  char d[400];
  snprintf(d, sizeof d, "%s/%s", root, sub);
  setenv("KILN_CACHE_DIR", d, 1);
}

static void entry_file(rt_cache_key k, char *path, size_t n) {
  char dir[400], hex[33];
  CHECK(rt_cache_dir(dir, sizeof dir) == 0);
  rt_cache_key_hex(k, hex);
  snprintf(path, n, "%s/%s.ptx", dir, hex);
}

static void test_put_get(void) {
  use_dir("a/b/c"); /* created on the first put */
  rt_cache_key k = rt_cache_key_make("ir", "sm_80", "", "22", "0.1");
  CHECK(rt_cache_get(k) == NULL);
  CHECK(rt_cache_put(k, "// ptx one\n.version 8.0\n") == 0);
  char *got = rt_cache_get(k);
  CHECK(got && !strcmp(got, "// ptx one\n.version 8.0\n"));
  free(got);
  got = rt_cache_get(k); /* a second lookup hits too */
  CHECK(got && !strcmp(got, "// ptx one\n.version 8.0\n"));
  free(got);
  CHECK(rt_cache_put(k, "replaced") == 0);
  got = rt_cache_get(k);
  CHECK(got && !strcmp(got, "replaced"));
  free(got);
  CHECK(rt_cache_put(k, "") == 0); /* an empty payload is a valid entry */
  got = rt_cache_get(k);
  CHECK(got && got[0] == 0);
  free(got);
  rt_cache_key other = rt_cache_key_make("ir2", "sm_80", "", "22", "0.1");
  CHECK(rt_cache_get(other) == NULL);
}

static void write_raw(const char *path, const char *data, size_t n) {
  CHECK(test_write_file(path, data, n) == 0);
}

/* Every damaged form of a good entry is a miss; the good one is a hit again afterwards. */
static void test_corrupt(void) {
  use_dir("corrupt");
  rt_cache_key k = rt_cache_key_make("ir", "sm_90a", "", "22", "0.1");
  CHECK(rt_cache_put(k, "payload text for the entry") == 0);
  char path[512];
  entry_file(k, path, sizeof path);
  size_t n;
  char *good = test_read_file(path, &n);
  CHECK(good && n > 30);
  if (!good) return;
  char *bad = malloc(n + 8);
  memcpy(bad, good, n);
  bad[n - 3] ^= 0x20; /* flipped payload byte: checksum */
  write_raw(path, bad, n);
  CHECK(rt_cache_get(k) == NULL);
  write_raw(path, good, n - 1); /* short */
  CHECK(rt_cache_get(k) == NULL);
  memcpy(bad, good, n);
  memcpy(bad + n, "xx", 2); /* trailing bytes */
  write_raw(path, bad, n + 2);
  CHECK(rt_cache_get(k) == NULL);
  write_raw(path, "", 0); /* empty file */
  CHECK(rt_cache_get(k) == NULL);
  write_raw(path, "not a cache entry\n", 18);
  CHECK(rt_cache_get(k) == NULL);
  memcpy(bad, good, n);
  bad[11] = '2'; /* "kiln-cache 2": unknown version */
  write_raw(path, bad, n);
  CHECK(rt_cache_get(k) == NULL);
  /* a valid entry of another key copied under this key's name */
  rt_cache_key k2 = rt_cache_key_make("other", "sm_90a", "", "22", "0.1");
  CHECK(rt_cache_put(k2, "payload text for the entry") == 0);
  char path2[512];
  entry_file(k2, path2, sizeof path2);
  size_t n2;
  char *other = test_read_file(path2, &n2);
  write_raw(path, other, n2);
  CHECK(rt_cache_get(k) == NULL);
  write_raw(path, good, n);
  char *got = rt_cache_get(k);
  CHECK(got && !strcmp(got, "payload text for the entry"));
  free(got);
  free(other);
  free(bad);
  free(good);
}

static void test_dirs(void) {
  char buf[600], want[512];
  setenv("KILN_CACHE_DIR", "/x/kc", 1);
  CHECK(rt_cache_dir(buf, sizeof buf) == 0 && !strcmp(buf, "/x/kc"));
  unsetenv("KILN_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/x/xdg", 1);
  CHECK(rt_cache_dir(buf, sizeof buf) == 0 && !strcmp(buf, "/x/xdg/kiln"));
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/x/home", 1);
  CHECK(rt_cache_dir(buf, sizeof buf) == 0 && !strcmp(buf, "/x/home/.cache/kiln"));
  unsetenv("HOME");
  CHECK(rt_cache_dir(buf, sizeof buf) == -1);
  rt_cache_key k = rt_cache_key_make("a", "b", "c", "d", "e");
  CHECK(rt_cache_put(k, "x") == -1 && rt_cache_get(k) == NULL);
  /* a cache directory that cannot be created: a path under a regular file */
  snprintf(want, sizeof want, "%s/plainfile", root);
  write_raw(want, "x", 1);
  snprintf(buf, sizeof buf, "%s/sub", want);
  setenv("KILN_CACHE_DIR", buf, 1);
  CHECK(rt_cache_put(k, "x") == -1 && rt_cache_get(k) == NULL);
}

/* Writers race on one key with payloads of different sizes; every read sees a whole payload. */
enum { WRITERS = 4, PUTS = 60 };

static void payload(int w, char *buf, size_t n) {
  size_t len = 100 + (size_t)w * 3000;
  if (len >= n) len = n - 1;
  memset(buf, 'a' + w, len);
  buf[len] = 0;
}

static void test_concurrent(void) {
  use_dir("race");
  rt_cache_key k = rt_cache_key_make("race", "sm_80", "", "22", "0.1");
  static char texts[WRITERS][16384];
  for (int w = 0; w < WRITERS; w++) payload(w, texts[w], sizeof texts[w]);
  pid_t pids[WRITERS];
  for (int w = 0; w < WRITERS; w++) {
    pids[w] = fork();
    if (pids[w] == 0) {
      for (int i = 0; i < PUTS; i++)
        if (rt_cache_put(k, texts[w])) _exit(1);
      _exit(0);
    }
  }
  int torn = 0, hits = 0, running = WRITERS, st;
  for (int i = 0; i < 400 || running > 0; i++) {
    char *got = rt_cache_get(k);
    if (got) {
      int ok = 0;
      for (int w = 0; w < WRITERS; w++) ok |= !strcmp(got, texts[w]);
      torn += !ok;
      hits++;
      free(got);
    }
    for (int w = 0; w < WRITERS; w++)
      if (pids[w] > 0 && waitpid(pids[w], &st, WNOHANG) == pids[w]) {
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        pids[w] = 0;
        running--;
      }
  }
  CHECK(hits > 0);
  CHECK(torn == 0);
  char *last = rt_cache_get(k);
  CHECK(last != NULL);
  free(last);
  /* no temporary files left behind */
  char dir[400];
  rt_cache_dir(dir, sizeof dir);
  DIR *d = opendir(dir);
  int files = 0, temps = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || e->d_name[1] == '.')) continue;
    if (!strcmp(e->d_name, ".trim-stamp")) continue;
    files++;
    temps += e->d_name[0] == '.';
  }
  if (d) closedir(d);
  CHECK(files == 1 && temps == 0);
}

/* ---- hardening ---- */

static void on_alarm(int sig) {
  static const char msg[] = "test_cache: rt_cache_get blocked on a FIFO entry\n";
  (void)sig;
  if (write(2, msg, sizeof msg - 1)) _exit(1);
  _exit(1);
}

/* A FIFO under an entry's name: a miss at once (a blocking open would wait for a writer forever). */
static void test_fifo(void) {
  use_dir("fifo");
  rt_cache_key k = rt_cache_key_make("fifo", "sm_80", "", "22", "0.1");
  CHECK(rt_cache_put(k, "first") == 0);
  char path[512];
  entry_file(k, path, sizeof path);
  CHECK(unlink(path) == 0 && mkfifo(path, 0644) == 0);
  signal(SIGALRM, on_alarm);
  alarm(5);
  CHECK(rt_cache_get(k) == NULL);
  alarm(0);
  signal(SIGALRM, SIG_DFL);
  CHECK(rt_cache_put(k, "second") == 0); /* the rename replaces the FIFO */
  char *got = rt_cache_get(k);
  CHECK(got && !strcmp(got, "second"));
  free(got);
}

/* A symlink under an entry's name is refused even when its target is a valid entry. */
static void test_symlink(void) {
  use_dir("symlink");
  rt_cache_key k = rt_cache_key_make("link", "sm_80", "", "22", "0.1");
  CHECK(rt_cache_put(k, "valid payload") == 0);
  char path[512], moved[600];
  entry_file(k, path, sizeof path);
  snprintf(moved, sizeof moved, "%s/elsewhere", root);
  CHECK(rename(path, moved) == 0);
  CHECK(symlink(moved, path) == 0);
  CHECK(rt_cache_get(k) == NULL);
  struct stat st;
  CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode)); /* still there: a miss, not a cleanup */
}

static void make_file_aged(const char *path, time_t age_s) {
  write_raw(path, "partial", 7);
  struct timespec t[2];
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= age_s;
  t[1] = t[0];
  CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* The next put scans the folder: its stamp (the last scan's time) is gone. */
static void force_scan(void) {
  char dir[400], stamp[500];
  CHECK(rt_cache_dir(dir, sizeof dir) == 0);
  snprintf(stamp, sizeof stamp, "%s/.trim-stamp", dir);
  unlink(stamp);
}

/* A write removes temporary files older than an hour, keeps fresh ones (a writer still at work)
 * and leaves files that are not the cache's own alone. */
static void test_stale_temps(void) {
  use_dir("temps");
  rt_cache_key k = rt_cache_key_make("temps", "sm_80", "", "22", "0.1");
  CHECK(rt_cache_put(k, "x") == 0);
  char dir[400], hex[33], stale[600], fresh[600], other[600], entry[600];
  CHECK(rt_cache_dir(dir, sizeof dir) == 0);
  rt_cache_key_hex(k, hex);
  snprintf(stale, sizeof stale, "%s/.%s.AbC123", dir, hex);
  snprintf(fresh, sizeof fresh, "%s/.%s.xYz789", dir, hex);
  snprintf(other, sizeof other, "%s/.notes", dir);
  make_file_aged(stale, 2 * 3600);
  make_file_aged(fresh, 60);
  make_file_aged(other, 2 * 3600);
  rt_cache_key k2 = rt_cache_key_make("temps2", "sm_80", "", "22", "0.1");
  force_scan();
  CHECK(rt_cache_put(k2, "y") == 0);
  CHECK(!exists(stale));
  CHECK(exists(fresh));
  CHECK(exists(other));
  entry_file(k, entry, sizeof entry);
  CHECK(exists(entry));
}

static unsigned mode_of(rt_cache_key k) {
  char path[512];
  struct stat st;
  entry_file(k, path, sizeof path);
  return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

/* Entries are created 0666 less the umask (mkstemp's 0600 would hide them from other users). */
static void test_mode(void) {
  use_dir("mode");
  static const unsigned masks[3] = {022, 077, 002}, want[3] = {0644, 0600, 0664};
  mode_t old = umask(022);
  for (int i = 0; i < 3; i++) {
    char ir[16];
    snprintf(ir, sizeof ir, "mode%d", i);
    umask(masks[i]);
    rt_cache_key k = rt_cache_key_make(ir, "sm_80", "", "22", "0.1");
    CHECK(rt_cache_put(k, "text") == 0);
    unsigned got = mode_of(k);
    if (got != want[i]) fprintf(stderr, "umask %03o: mode %04o, want %04o\n", masks[i], got, want[i]);
    CHECK(got == want[i]);
  }
  umask(old);
}

static void set_age(rt_cache_key k, time_t age_s) {
  char path[512];
  struct timespec t[2];
  entry_file(k, path, sizeof path);
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= age_s;
  t[1] = t[0];
  CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
}

static int present(rt_cache_key k) {
  char path[512];
  entry_file(k, path, sizeof path);
  return exists(path);
}

/* Under a 1 MiB cap, a write over the cap removes the least recently used entry; a hit counts as a
 * use; the entry just written stays even when it alone is over the cap. */
static void test_eviction(void) {
  use_dir("evict");
  setenv("KILN_CACHE_MAX_MB", "1", 1);
  enum { PART = 300 << 10 };
  char *big = malloc(3 << 19);
  memset(big, 'p', 3 << 19);
  big[PART] = 0;
  rt_cache_key k[5];
  for (int i = 0; i < 5; i++) {
    char ir[16];
    snprintf(ir, sizeof ir, "evict%d", i);
    k[i] = rt_cache_key_make(ir, "sm_80", "", "22", "0.1");
  }
  for (int i = 0; i < 3; i++) CHECK(rt_cache_put(k[i], big) == 0); /* 900 KiB: under the cap */
  for (int i = 0; i < 3; i++) set_age(k[i], 300 - 100 * i);        /* k0 oldest, then k1, k2 */
  char *hit = rt_cache_get(k[0]);                                  /* k0 now the most recent */
  CHECK(hit != NULL);
  free(hit);
  CHECK(present(k[0]) && present(k[1]) && present(k[2]));
  force_scan();
  CHECK(rt_cache_put(k[3], big) == 0); /* 1200 KiB: one entry must go, the least recently used */
  CHECK(present(k[0]));
  CHECK(!present(k[1]));
  CHECK(present(k[2]) && present(k[3]));
  big[PART] = 'p';
  big[(3 << 19) - 1] = 0; /* 1.5 MiB alone */
  force_scan();
  CHECK(rt_cache_put(k[4], big) == 0);
  CHECK(!present(k[0]) && !present(k[2]) && !present(k[3]));
  hit = rt_cache_get(k[4]);
  CHECK(hit && strlen(hit) == (3u << 19) - 1);
  free(hit);
  free(big);
  unsetenv("KILN_CACHE_MAX_MB");
}

static void age_stamp(time_t age_s) {
  char dir[400], stamp[500];
  struct timespec t[2];
  CHECK(rt_cache_dir(dir, sizeof dir) == 0);
  snprintf(stamp, sizeof stamp, "%s/.trim-stamp", dir);
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= age_s;
  t[1] = t[0];
  CHECK(utimensat(AT_FDCWD, stamp, t, 0) == 0);
}

/* The folder is scanned at most every 10 seconds: puts right after a scan leave it over the cap;
 * a put once the stamp is older (or in the future: a clock set back) scans and evicts. */
static void test_scan_interval(void) {
  use_dir("interval");
  setenv("KILN_CACHE_MAX_MB", "1", 1);
  char *big = malloc((300 << 10) + 1);
  memset(big, 'q', 300 << 10);
  big[300 << 10] = 0;
  rt_cache_key k[6];
  for (int i = 0; i < 6; i++) {
    char ir[16];
    snprintf(ir, sizeof ir, "interval%d", i);
    k[i] = rt_cache_key_make(ir, "sm_80", "", "22", "0.1");
  }
  for (int i = 0; i < 4; i++) CHECK(rt_cache_put(k[i], big) == 0); /* the first put scans */
  for (int i = 0; i < 4; i++) set_age(k[i], 400 - 100 * i);
  CHECK(present(k[0]) && present(k[1]) && present(k[2]) && present(k[3])); /* 1200 KiB */
  age_stamp(11);
  CHECK(rt_cache_put(k[4], big) == 0); /* 1500 KiB: the two oldest go */
  CHECK(!present(k[0]) && !present(k[1]));
  CHECK(present(k[2]) && present(k[3]) && present(k[4]));
  set_age(k[4], 50);
  age_stamp(-3600);
  CHECK(rt_cache_put(k[5], big) == 0); /* a stamp in the future: scan */
  CHECK(!present(k[2]));
  CHECK(present(k[3]) && present(k[4]) && present(k[5]));
  free(big);
  unsetenv("KILN_CACHE_MAX_MB");
}

/* $KILN_CACHE_MAX_MB: whole MiB from 1 to 1048576; anything else is an error naming the variable
 * and its value, and a put writes nothing. */
static void test_max_mb(void) {
  use_dir("maxmb");
  uint64_t b = 0;
  char err[256];
  unsetenv("KILN_CACHE_MAX_MB");
  CHECK(rt_cache_max_bytes(&b, err, sizeof err) == 0 && b == 512ull << 20);
  setenv("KILN_CACHE_MAX_MB", "", 1);
  CHECK(rt_cache_max_bytes(&b, err, sizeof err) == 0 && b == 512ull << 20);
  setenv("KILN_CACHE_MAX_MB", "1", 1);
  CHECK(rt_cache_max_bytes(&b, err, sizeof err) == 0 && b == 1ull << 20);
  setenv("KILN_CACHE_MAX_MB", "1048576", 1);
  CHECK(rt_cache_max_bytes(&b, err, sizeof err) == 0 && b == 1ull << 40);
  static const char *const bad[] = {"0",  "abc", "-5",      "12x",
                                    " 5", "1.5", "1048577", "99999999999999999999999"};
  rt_cache_key k = rt_cache_key_make("maxmb", "sm_80", "", "22", "0.1");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    setenv("KILN_CACHE_MAX_MB", bad[i], 1);
    err[0] = 0;
    CHECK(rt_cache_max_bytes(&b, err, sizeof err) == -1);
    CHECK(strstr(err, "KILN_CACHE_MAX_MB") && strstr(err, bad[i]));
    CHECK(rt_cache_put(k, "x") == -1);
  }
  unsetenv("KILN_CACHE_MAX_MB");
  CHECK(rt_cache_get(k) == NULL);
}

static int count_temps(const char *dir) {
  DIR *d = opendir(dir);
  int temps = 0;
  for (struct dirent *e; d && (e = readdir(d));) temps += e->d_name[0] == '.' && strlen(e->d_name) == 40;
  if (d) closedir(d);
  return temps;
}

/* A put that cannot create its temporary file, or cannot rename it into place, fails and leaves
 * no temporary file behind. */
static void test_put_errors(void) {
  char file[400], dir[400], path[512];
  snprintf(file, sizeof file, "%s/notadir", root);
  write_raw(file, "x", 1);
  setenv("KILN_CACHE_DIR", file, 1); /* exists, but is no folder: the temporary file cannot open */
  rt_cache_key k = rt_cache_key_make("errs", "sm_80", "", "22", "0.1");
  CHECK(rt_cache_put(k, "x") == -1);
  use_dir("errs");
  CHECK(rt_cache_put(rt_cache_key_make("other", "", "", "", ""), "x") == 0);
  entry_file(k, path, sizeof path);
  CHECK(mkdir(path, 0755) == 0); /* a folder under the entry's name: the rename fails */
  CHECK(rt_cache_put(k, "x") == -1);
  CHECK(rt_cache_dir(dir, sizeof dir) == 0);
  CHECK(count_temps(dir) == 0);
}

int main(void) {
  root = test_scratch_dir("kiln-test-cache");
  unsetenv("KILN_CACHE_MAX_MB");
  test_hash_vectors();
  test_key_inputs();
  test_put_get();
  test_corrupt();
  test_concurrent();
  test_fifo();
  test_symlink();
  test_stale_temps();
  test_mode();
  test_eviction();
  test_scan_interval();
  test_max_mb();
  test_put_errors();
  test_dirs();
  if (test_rmtree(root)) fprintf(stderr, "could not remove %s\n", root);
  free(root);
  return test_done("test_cache");
}

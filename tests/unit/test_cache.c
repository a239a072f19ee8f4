/*
 * test_cache.c - the on-disk kernel cache: the hash against the FNV reference vectors, keys that
 * change with every input, put/get round trips, entries that must be rejected (corrupt, short,
 * long, wrong key, garbage), directory resolution, and concurrent writers never tearing an entry.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    files++;
    temps += e->d_name[0] == '.';
  }
  if (d) closedir(d);
  CHECK(files == 1 && temps == 0);
}

int main(void) {
  root = test_scratch_dir("kiln-test-cache");
  test_hash_vectors();
  test_key_inputs();
  test_put_get();
  test_corrupt();
  test_concurrent();
  test_dirs();
  if (test_rmtree(root)) fprintf(stderr, "could not remove %s\n", root);
  free(root);
  return test_done("test_cache");
}

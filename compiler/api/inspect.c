/*
 * inspect.c - kiln_inspect and its parts (include/kiln.h): what ptxas says about a kernel
 * (registers, spills, shared memory), the occupancy that follows from the target row's per-SM limits,
 * and the SASS of the innermost loop that holds matrix instructions (nvdisasm or cuobjdump).
 *
 * Occupancy follows the rules of CUDA's occupancy calculator (cuda_occupancy.h, CUDA 13.0:
 * cudaOccMaxBlocksPerSMRegsLimit and cudaOccMaxBlocksPerSMSmemLimit): registers are allocated per
 * warp in units of 256, and each of an SM's 4 sub-partitions holds whole warps' registers from a
 * quarter of the register file (on these rows a block may use the whole file, so the calculator's
 * per-block check never binds on its own); a block's shared memory is its static plus dynamic bytes
 * plus the driver's per-block reserve (1 KB from sm_80), rounded up to 128 bytes (256 on sm_75),
 * against the SM's largest carveout; a block over the per-block limit fits 0 times.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../ir/file.h"
#include "api.h"
#include "driver.h"

/* ---- occupancy ---- */

static void occupancy(const tg_target *t, int regs, int threads, int smem, kiln_occupancy *o) {
  int warps = (threads + 31) / 32;
  /* registers: per warp, rounded up to 256; each of the 4 sub-partitions holds a quarter of the file */
  int regs_per_warp = (regs * 32 + 255) / 256 * 256;
  o->by_regs = regs_per_warp ? (t->regs_per_sm / 4 / regs_per_warp * 4) / warps : t->max_blocks_per_sm;
  /* shared memory: static + dynamic + the reserve, rounded up to 128 bytes (256 before sm_80) */
  int unit = t->sm >= 80 ? 128 : 256;
  int block_smem = (smem + t->smem_reserved + unit - 1) / unit * unit;
  o->by_smem = smem > t->smem_per_block ? 0 : block_smem ? t->smem_per_sm / block_smem : t->max_blocks_per_sm;
  o->by_threads = t->max_threads_per_sm / (warps * 32);
  o->by_slots = t->max_blocks_per_sm;
  /* Which binds: on a tie, registers before shared memory before threads before block slots; a block
   * that uses no registers or no shared memory is not limited by them. */
  o->blocks = o->by_slots, o->limit = "block slots";
  if (o->by_threads <= o->blocks) o->blocks = o->by_threads, o->limit = "threads";
  if (smem && o->by_smem <= o->blocks) o->blocks = o->by_smem, o->limit = "shared memory";
  if (regs && o->by_regs <= o->blocks) o->blocks = o->by_regs, o->limit = "registers";
  o->warps = o->blocks * warps;
  o->max_warps = t->max_threads_per_sm / 32;
}

kiln_status kiln_occupancy_get(kiln_session *s, const char *target, int regs, int threads, int smem_bytes,
                               kiln_occupancy *out) {
  if (!s) return KILN_ERR_USAGE;
  api_begin(s);
  memset(out, 0, sizeof *out);
  const tg_target *t = api_target(s, target);
  if (!t) return KILN_ERR_USAGE;
  if (threads < 1 || threads > t->max_threads)
    return api_fail(s, KILN_ERR_USAGE, "threads per block %d outside 1..%d for %s", threads, t->max_threads,
                    t->name);
  if (regs < 0 || regs > t->regs_per_thread)
    return api_fail(s, KILN_ERR_USAGE, "registers per thread %d outside 0..%d for %s", regs,
                    t->regs_per_thread, t->name);
  if (smem_bytes < 0) return api_fail(s, KILN_ERR_USAGE, "shared bytes %d is negative", smem_bytes);
  occupancy(t, regs, threads, smem_bytes, out);
  return KILN_OK;
}

/* ---- SASS ---- */

static const char *const class_names[KILN_SASS_NCLASS] = {
    "mma", "shared-load", "shared-store", "global", "sync", "branch", "int", "float", "other"};

const char *kiln_sass_class_name(int c) { return c >= 0 && c < KILN_SASS_NCLASS ? class_names[c] : NULL; }

static int in_list(const char *op, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(op, *list)) return 1;
  return 0;
}

/* op: the opcode without its modifiers ("HMMA", "LDGSTS"). */
static int sass_class(const char *op) {
  static const char *const shared_load[] = {"LDS", "LDSM", NULL};
  static const char *const shared_store[] = {"STS", "STSM", NULL};
  static const char *const global[] = {"LDG",     "STG",    "LDGSTS", "LD",       "ST",   "LDL",    "STL",
                                       "ATOM",    "ATOMG",  "ATOMS",  "RED",      "REDG", "UBLKCP", "UTMALDG",
                                       "UTMASTG", "UTMAPF", "UBLKPF", "UTMACCTL", "CCTL", NULL};
  static const char *const sync[] = {"BAR",       "DEPBAR",      "LDGDEPBAR",    "MEMBAR",  "SYNCS",
                                     "WARPSYNC",  "ERRBAR",      "FENCE",        "ARRIVES", "WARPGROUP",
                                     "CGAERRBAR", "UCGABAR_ARV", "UCGABAR_WAIT", NULL};
  static const char *const branch[] = {"BRA",  "BRX",     "JMP",       "JMX",   "EXIT", "RET",
                                       "CALL", "BSSY",    "BSYNC",     "BREAK", "BMOV", "YIELD",
                                       "KILL", "ACQBULK", "NANOSLEEP", NULL};
  static const char *const integer[] = {"LEA",   "SHF",    "LOP3", "LOP",   "SEL",  "PRMT",
                                        "VIADD", "VIMNMX", "POPC", "FLO",   "BMSK", "SGXT",
                                        "SHL",   "SHR",    "BREV", "IMNMX", NULL};
  static const char *const floating[] = {"MUFU", "F2F", "F2I", "I2F", "F2FP", "I2FP", "FRND", NULL};
  if (strstr(op, "MMA")) return KILN_SASS_MMA;
  if (in_list(op, shared_load)) return KILN_SASS_SHARED_LOAD;
  if (in_list(op, shared_store)) return KILN_SASS_SHARED_STORE;
  if (in_list(op, global)) return KILN_SASS_GLOBAL;
  if (in_list(op, sync)) return KILN_SASS_SYNC;
  if (in_list(op, branch)) return KILN_SASS_BRANCH;
  const char *base = op[0] == 'U' && op[1] ? op + 1 : op; /* the uniform datapath's twins */
  if (base[0] == 'I' || in_list(base, integer)) return KILN_SASS_INT;
  if (op[0] == 'F' || op[0] == 'H' || in_list(base, floating)) return KILN_SASS_FLOAT;
  return KILN_SASS_OTHER;
}

typedef struct {
  unsigned addr;
  int func;       /* which function of the text */
  int cls;        /* KILN_SASS_* */
  double units;   /* an MMA's work in warp-level m16n8 instructions (kiln_sass_loop.mma_units) */
  int nop;        /* NOP: not counted */
  int elect;      /* ELECT */
  int branch;     /* BRA */
  long target;    /* the branch's target address, -1 if unknown */
  char label[32]; /* nvdisasm's target label, resolved after the scan */
} sass_insn;

typedef struct {
  char name[32];
  unsigned addr;
  int func;
} sass_label;

/* One instruction line (an address comment, a predicate, "BRA `(.L_x_0) ;") into *in; 0 if the line
 * is not one. */
static int parse_insn(const char *line, int func, sass_insn *in) {
  const char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (strncmp(p, "/*", 2)) return 0;
  char *end;
  unsigned long addr = strtoul(p + 2, &end, 16);
  if (end == p + 2 || strncmp(end, "*/", 2)) return 0;
  p = end + 2;
  while (*p == ' ' || *p == '\t' || *p == '{') p++;
  if (*p == '@') /* a predicate */
    while (*p && *p != ' ' && *p != '\t') p++;
  while (*p == ' ' || *p == '\t') p++;
  char op[32];
  int n = 0;
  while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n < (int)sizeof op - 1) op[n] = p[n], n++;
  op[n] = 0;
  if (!n || !isupper((unsigned char)op[0])) return 0; /* the encoding comment lines */
  memset(in, 0, sizeof *in);
  in->addr = (unsigned)addr;
  in->func = func;
  in->cls = sass_class(op);
  in->units = in->cls == KILN_SASS_MMA;
  if (in->cls == KILN_SASS_MMA && n > 4 && !strcmp(op + n - 4, "GMMA") && p[n] == '.') {
    /* a warpgroup MMA, "HGMMA.64x128x16.F32": each of its 4 warps does 16 x N x K, N/8 m16n8 mma */
    unsigned m = 0, w = 0;
    if (sscanf(p + n + 1, "%ux%u", &m, &w) == 2 && m == 64 && w >= 8) in->units = w / 8.0;
  }
  in->nop = !strcmp(op, "NOP");
  in->elect = !strcmp(op, "ELECT");
  in->branch = !strcmp(op, "BRA");
  in->target = -1;
  if (in->branch) {
    const char *lab = strstr(p, "`(");
    const char *hex = strstr(p + n, "0x");
    if (lab) {
      lab += 2;
      size_t k = strcspn(lab, ")");
      if (k < sizeof in->label) memcpy(in->label, lab, k), in->label[k] = 0;
    } else if (hex && hex < p + strcspn(p, ";"))
      in->target = strtol(hex, NULL, 16);
  }
  return 1;
}

/* A label line ".L_x_14:" (name into out). */
static int parse_label(const char *line, char *out, size_t outn) {
  const char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  size_t k = strcspn(p, ": \t\n");
  if (p[0] != '.' || p[k] != ':' || k >= outn || k < 2) return 0;
  memcpy(out, p, k);
  out[k] = 0;
  return 1;
}

/* A line that begins a function: nvdisasm's ".text.NAME" section or cuobjdump's "Function : NAME". */
static int starts_function(const char *line) {
  return strstr(line, ".section\t.text.") || strstr(line, ".section .text.") || strstr(line, "Function :");
}

kiln_status kiln_sass_loop_find(kiln_session *s, const char *text, kiln_sass_loop *out) {
  if (!s) return KILN_ERR_USAGE;
  api_begin(s);
  memset(out, 0, sizeof *out);
  if (!text) return api_fail(s, KILN_ERR_USAGE, "kiln_sass_loop_find: no text");
  size_t cap = 1024, n = 0, lcap = 64, nl = 0;
  sass_insn *in = malloc(cap * sizeof *in);
  sass_label *labels = malloc(lcap * sizeof *labels);
  if (!in || !labels) {
    free(in), free(labels);
    return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
  }
  int func = 0, pending = 0; /* labels waiting for the next instruction's address */
  for (const char *line = text; *line;) {
    size_t len = strcspn(line, "\n");
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    line += len + (line[len] == '\n');
    char name[32];
    if (starts_function(buf)) {
      func++;
      pending = 0;
    } else if (parse_label(buf, name, sizeof name)) {
      if (nl == lcap) {
        sass_label *m = realloc(labels, (lcap *= 2) * sizeof *labels);
        if (!m) goto oom;
        labels = m;
      }
      snprintf(labels[nl].name, sizeof labels[nl].name, "%s", name);
      labels[nl].func = func;
      labels[nl].addr = 0;
      nl++, pending++;
    } else {
      if (n == cap) {
        sass_insn *m = realloc(in, (cap *= 2) * sizeof *in);
        if (!m) goto oom;
        in = m;
      }
      if (!parse_insn(buf, func, &in[n])) continue;
      for (; pending; pending--) labels[nl - pending].addr = in[n].addr;
      n++;
    }
  }
  if (!n) {
    free(in), free(labels);
    return api_fail(s, KILN_ERR_INPUT, "no SASS instructions in the text");
  }
  for (size_t i = 0; i < n; i++) {
    if (!in[i].nop) out->kernel_instructions++;
    if (in[i].cls == KILN_SASS_MMA) out->kernel_mma++;
    if (!in[i].label[0]) continue;
    for (size_t j = 0; j < nl; j++)
      if (labels[j].func == in[i].func && !strcmp(labels[j].name, in[i].label)) in[i].target = labels[j].addr;
  }
  /* The shortest backward-branch region that holds an MMA. A branch from code laid out after a loop
   * back into its middle (a cold path's return, e.g. a copy's fallback) is no loop of its own: its
   * region starts inside another branch's region and ends past it, and it is skipped. */
  size_t best_lo = 0, best_hi = 0;
  for (size_t i = 0; i < n; i++) {
    if (!in[i].branch || in[i].target < 0 || in[i].target > (long)in[i].addr) continue;
    size_t lo = i;
    while (lo > 0 && in[lo - 1].func == in[i].func && in[lo - 1].addr >= (unsigned long)in[i].target) lo--;
    int into = 0;
    for (size_t k = lo; k < i && !into; k++)
      into = in[k].branch && in[k].target >= 0 && in[k].target < (long)in[lo].addr;
    if (into) continue;
    int mma = 0;
    for (size_t k = lo; k <= i; k++) mma |= in[k].cls == KILN_SASS_MMA;
    if (mma && (!out->found || in[i].addr - in[lo].addr < in[best_hi].addr - in[best_lo].addr))
      out->found = 1, best_lo = lo, best_hi = i;
  }
  if (out->found) {
    out->start = in[best_lo].addr;
    out->end = in[best_hi].addr;
    for (size_t k = best_lo; k <= best_hi; k++)
      if (!in[k].nop) out->instructions++, out->by_class[in[k].cls]++, out->mma_units += in[k].units;
    /* elected blocks: a forward branch inside the loop followed by an ELECT within 4 instructions
     * skips, for every warp but the elected one, the instructions up to its target */
    for (size_t k = best_lo; k <= best_hi; k++) {
      if (!in[k].branch || in[k].target <= (long)in[k].addr || in[k].target > (long)in[best_hi].addr)
        continue;
      int el = 0;
      for (size_t q = k + 1; q <= best_hi && q <= k + 4 && !el; q++) el = in[q].elect;
      if (!el) continue;
      size_t q = k + 1;
      for (; q <= best_hi && in[q].addr < (unsigned long)in[k].target; q++)
        if (!in[q].nop && in[q].cls != KILN_SASS_MMA) out->elected++;
      k = q - 1;
    }
    int mma = out->by_class[KILN_SASS_MMA];
    out->non_mma_per_mma = (double)(out->instructions - mma) / mma;
    out->non_mma_per_unit = (double)(out->instructions - mma) / out->mma_units;
    out->others_per_unit = (double)(out->instructions - out->elected - mma) / out->mma_units;
  }
  free(in), free(labels);
  return KILN_OK;
oom:
  free(in), free(labels);
  return api_fail(s, KILN_ERR_SYSTEM, "out of memory");
}

/* ---- the disassembler ---- */

static int executable(const char *p) { return access(p, X_OK) == 0; }

static int on_path(const char *name, char *out, size_t outn) {
  const char *path = getenv("PATH");
  if (!path) return 0;
  char *dup = strdup(path), *save = NULL;
  int found = 0;
  for (char *dir = dup ? strtok_r(dup, ":", &save) : NULL; dir && !found; dir = strtok_r(NULL, ":", &save)) {
    snprintf(out, outn, "%s/%s", dir, name);
    found = executable(out);
  }
  free(dup);
  return found;
}

static int in_venv(const char *venv, char *out, size_t outn) {
  static const char *const layouts[] = {"lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm",
                                        "lib/python3*/site-packages/nvidia/cuda_nvdisasm/bin/nvdisasm"};
  for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++) {
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/%s", venv, layouts[i]);
    glob_t g;
    int found = 0;
    if (glob(pat, 0, NULL, &g) == 0)
      for (size_t k = 0; k < g.gl_pathc && !found; k++)
        if (executable(g.gl_pathv[k])) snprintf(out, outn, "%s", g.gl_pathv[k]), found = 1;
    globfree(&g);
    if (found) return 1;
  }
  return 0;
}

const char *kiln_sass_tool(void) {
  static char found[4096];
  const char *env = getenv("KILN_NVDISASM");
  if (env) return executable(env) ? env : NULL;
  if (on_path("nvdisasm", found, sizeof found)) return found;
  snprintf(found, sizeof found, "/usr/local/cuda/bin/nvdisasm");
  if (executable(found)) return found;
  if (on_path("cuobjdump", found, sizeof found)) return found;
  snprintf(found, sizeof found, "/usr/local/cuda/bin/cuobjdump");
  if (executable(found)) return found;
  const char *venv = getenv("VIRTUAL_ENV");
  if (venv && in_venv(venv, found, sizeof found)) return found;
  if (in_venv(".venv", found, sizeof found)) return found;
  return NULL;
}

static const char *no_tool_message(void) {
  static char msg[512];
  const char *env = getenv("KILN_NVDISASM");
  if (env) {
    snprintf(msg, sizeof msg, "no SASS disassembler: KILN_NVDISASM=%.400s is not an executable", env);
    return msg;
  }
  return "no SASS disassembler (looked for nvdisasm and cuobjdump on PATH and in /usr/local/cuda/bin, "
         "nvdisasm in $VIRTUAL_ENV and ./.venv site-packages; set KILN_NVDISASM)";
}

/* 1 if text holds an instruction line. */
static int has_instruction(const char *text) {
  sass_insn in;
  for (const char *line = text; *line;) {
    size_t len = strcspn(line, "\n");
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    if (parse_insn(buf, 0, &in)) return 1;
    line += len + (line[len] == '\n');
  }
  return 0;
}

/* Runs tool on the cubin at path; its standard output into *out. 0, or -1 with the message in s. */
static int disassemble(kiln_session *s, const char *tool, const char *cubin, const char *dir, char **out) {
  char txt[4200], log[4200];
  snprintf(txt, sizeof txt, "%s/k.sass", dir);
  snprintf(log, sizeof log, "%s/k.log", dir);
  const char *base = strrchr(tool, '/');
  base = base ? base + 1 : tool;
  int cuobjdump = strstr(base, "cuobjdump") != NULL;
  pid_t pid = fork();
  if (pid < 0) return api_fail(s, KILN_ERR_SYSTEM, "cannot fork: %s", strerror(errno)), -1;
  if (pid == 0) {
    int o = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0) _exit(126);
    dup2(o, 1), dup2(e, 2);
    if (cuobjdump)
      execl(tool, tool, "-sass", cubin, (char *)NULL);
    else
      execl(tool, tool, "-c", cubin, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  char rerr[256];
  *out = ok ? ir_read_file(txt, NULL, s->err, sizeof s->err) : NULL;
  if (!ok) {
    char *l = ir_read_file(log, NULL, rerr, sizeof rerr);
    int n = l ? (int)strcspn(l, "\n") : 0;
    api_fail(s, KILN_ERR_COMPILE, "%s failed (exit %d)%s%.*s", tool, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
             n ? ": " : "", n, l ? l : "");
    free(l);
  }
  if (*out && !has_instruction(*out)) {
    api_fail(s, KILN_ERR_COMPILE, "%s printed no SASS instructions for the cubin", tool);
    free(*out);
    *out = NULL;
  }
  unlink(txt), unlink(log);
  return *out ? 0 : -1;
}

static int make_tmpdir(kiln_session *s, char *dir, size_t n) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, n, "%s/kiln-sass-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (mkdtemp(dir)) return 0;
  api_fail(s, KILN_ERR_SYSTEM, "cannot make a temporary directory %s: %s", dir, strerror(errno));
  return -1;
}

static const char *ptxas_missing(void) {
  static char msg[512];
  const char *env = getenv("KILN_PTXAS");
  if (env) {
    snprintf(msg, sizeof msg, "ptxas not found (looked in KILN_PTXAS=%.400s, which is not an executable)",
             env);
    return msg;
  }
  return "ptxas not found (looked on PATH and in /usr/local/cuda/bin; set KILN_PTXAS)";
}

/* ptxas -v on ptx, the cubin kept in dir/k.cubin (when keep). 0, or a status with the message in s. */
static kiln_status ptxas(kiln_session *s, const char *ptx, const tg_target *t, const char *dir, int keep,
                         char *info, size_t infon) {
  if (!driver_ptxas_path()) return api_fail(s, KILN_ERR_NO_TOOL, "%s", ptxas_missing());
  char cubin[4200];
  snprintf(cubin, sizeof cubin, "%s/k.cubin", dir);
  int st = driver_ptxas(ptx, t->name, keep ? cubin : NULL, info, infon, s->err, sizeof s->err);
  return st == 0 ? KILN_OK : st > 0 ? KILN_ERR_NO_TOOL : KILN_ERR_COMPILE;
}

kiln_status api_sass(kiln_session *s, const char *ptx, const tg_target *t, char **out) {
  *out = NULL;
  const char *tool = kiln_sass_tool();
  if (!tool) return api_fail(s, KILN_ERR_NO_TOOL, "%s", no_tool_message());
  char dir[4096], cubin[4200], info[4096];
  if (make_tmpdir(s, dir, sizeof dir)) return KILN_ERR_SYSTEM;
  snprintf(cubin, sizeof cubin, "%s/k.cubin", dir);
  kiln_status st = ptxas(s, ptx, t, dir, 1, info, sizeof info);
  if (st == KILN_OK && disassemble(s, tool, cubin, dir, out)) st = KILN_ERR_COMPILE;
  unlink(cubin);
  rmdir(dir);
  return st;
}

kiln_status kiln_sass_disassemble(kiln_session *s, const char *cubin, char **out) {
  if (!s || !out) return KILN_ERR_USAGE;
  *out = NULL;
  api_begin(s);
  if (!cubin) return api_fail(s, KILN_ERR_USAGE, "kiln_sass_disassemble: no cubin path");
  if (access(cubin, R_OK) != 0)
    return api_fail(s, KILN_ERR_INPUT, "cannot read %s: %s", cubin, strerror(errno));
  const char *tool = kiln_sass_tool();
  if (!tool) return api_fail(s, KILN_ERR_NO_TOOL, "%s", no_tool_message());
  char dir[4096];
  if (make_tmpdir(s, dir, sizeof dir)) return KILN_ERR_SYSTEM;
  kiln_status st = KILN_OK;
  if (disassemble(s, tool, cubin, dir, out)) {
    char msg[sizeof s->err];
    snprintf(msg, sizeof msg, "%s", s->err);
    st = api_fail(s, KILN_ERR_INPUT, "%s: %s", cubin, msg);
  }
  rmdir(dir);
  return st;
}

/* ---- kiln_inspect ---- */

/* ptxas -v's figures into r (driver_ptxas_parse); -1 if the report has no register count */
static int parse_ptxas(const char *info, kiln_inspect_result *r) {
  driver_ptxas_figures f;
  if (driver_ptxas_parse(info, &f)) return -1;
  r->registers = f.registers;
  r->stack_bytes = f.stack_bytes;
  r->spill_store_bytes = f.spill_store_bytes;
  r->spill_load_bytes = f.spill_load_bytes;
  r->static_shared_bytes = f.static_shared_bytes;
  r->barriers = f.barriers;
  return 0;
}

kiln_status kiln_inspect(kiln_recipe *r, const kiln_inspect_opts *o, kiln_inspect_result *out) {
  if (!r) return KILN_ERR_USAGE;
  memset(out, 0, sizeof *out);
  kiln_session *s = r->s;
  api_begin(s);
  if (!o) return api_fail(s, KILN_ERR_USAGE, "kiln_inspect: no options");
  const tg_target *t = api_target(s, o->target);
  if (!t) return KILN_ERR_USAGE;
  if (!driver_ptxas_path()) return api_fail(s, KILN_ERR_NO_TOOL, "%s", ptxas_missing());
  kiln_compile_opts co = {
      .target = t->name, .emit = KILN_EMIT_PTX, .no_cache = o->no_cache, .specialize = o->specialize};
  kiln_output ptx;
  kiln_status st = kiln_compile(r, &co, &ptx);
  if (st != KILN_OK) return st;
  snprintf(out->kernel, sizeof out->kernel, "%s", ptx.kernel);
  snprintf(out->target, sizeof out->target, "%s", t->name);
  out->threads = ptx.threads;
  out->dynamic_shared_bytes = ptx.shared_bytes;
  out->regs_per_sm = t->regs_per_sm;
  out->smem_per_sm = t->smem_per_sm;
  out->max_threads_per_sm = t->max_threads_per_sm;
  out->max_blocks_per_sm = t->max_blocks_per_sm;
  out->smem_reserved = t->smem_reserved;
  const char *tool = o->no_sass ? NULL : kiln_sass_tool();
  char dir[4096], cubin[4200];
  if (make_tmpdir(s, dir, sizeof dir)) {
    kiln_output_free(&ptx);
    return KILN_ERR_SYSTEM;
  }
  snprintf(cubin, sizeof cubin, "%s/k.cubin", dir);
  st = ptxas(s, ptx.data, t, dir, tool != NULL, out->ptxas_report, sizeof out->ptxas_report);
  kiln_output_free(&ptx);
  if (st == KILN_OK && parse_ptxas(out->ptxas_report, out))
    st = api_fail(s, KILN_ERR_COMPILE, "ptxas -v printed no register count: %.200s", out->ptxas_report);
  if (st == KILN_OK)
    occupancy(t, out->registers, out->threads, out->static_shared_bytes + out->dynamic_shared_bytes,
              &out->occ);
  if (st == KILN_OK && o->no_sass)
    snprintf(out->sass_tool, sizeof out->sass_tool, "not asked for");
  else if (st == KILN_OK && !tool)
    snprintf(out->sass_tool, sizeof out->sass_tool, "%s", no_tool_message());
  else if (st == KILN_OK) {
    char *text = NULL;
    if (disassemble(s, tool, cubin, dir, &text) == 0) {
      st = kiln_sass_loop_find(s, text, &out->loop);
      out->have_sass = st == KILN_OK;
      snprintf(out->sass_tool, sizeof out->sass_tool, "%s", tool);
    } else
      st = KILN_ERR_COMPILE;
    free(text);
  }
  unlink(cubin);
  rmdir(dir);
  return st;
}

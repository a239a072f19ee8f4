/*
 * profile_print.c - `kiln run --profile`: the simulator's counters as a table or as JSON.
 */
#include "profile_print.h"

#include "api.h"

#include <stdlib.h>
#include <string.h>

void profile_split_site(const char *site, char *op, size_t opn, char *line, size_t linen) {
  const char *open = strrchr(site, '(');
  size_t n = strlen(site);
  if (!open || n == 0 || site[n - 1] != ')') {
    snprintf(op, opn, "%s", site);
    snprintf(line, linen, "%s", "");
    return;
  }
  size_t oplen = (size_t)(open - site);
  while (oplen > 0 && site[oplen - 1] == ' ') oplen--;
  snprintf(op, opn, "%.*s", (int)oplen, site);
  snprintf(line, linen, "%.*s", (int)(site + n - 1 - open - 1), open + 1);
}

/* The order of the table's worst ops: bank conflicts (wavefronts over the ideal), then wavefronts per
 * request, compared without division. */
static int worse(const sim_prof_op *a, const sim_prof_op *b) {
  uint64_t ca = a->c.smem_wavefronts - a->c.smem_ideal_wavefronts,
           cb = b->c.smem_wavefronts - b->c.smem_ideal_wavefronts;
  if (ca != cb) return ca > cb;
  /* a->w / a->r > b->w / b->r  <=>  a->w * b->r > b->w * a->r (requests > 0) */
  unsigned __int128 x = (unsigned __int128)a->c.smem_wavefronts * b->c.smem_requests,
                    y = (unsigned __int128)b->c.smem_wavefronts * a->c.smem_requests;
  if (x != y) return x > y;
  if (a->c.smem_wavefronts != b->c.smem_wavefronts) return a->c.smem_wavefronts > b->c.smem_wavefronts;
  return 0;
}

void profile_print_table(FILE *f, const char *label, const sim_profile *p) {
  const sim_counters *t = &p->total;
  fprintf(
      f,
      "profile %s: smem %llu requests, %llu wavefronts (%llu conflicts); gmem %llu requests, %llu sectors, "
      "%llu B (%llu B unique); barriers %llu, mma %llu, ldmatrix %llu, cp.async %llu B, tma %llu B, shuffles "
      "%llu\n",
      label, (unsigned long long)t->smem_requests, (unsigned long long)t->smem_wavefronts,
      (unsigned long long)(t->smem_wavefronts - t->smem_ideal_wavefronts),
      (unsigned long long)t->gmem_requests, (unsigned long long)t->gmem_sectors,
      (unsigned long long)t->gmem_bytes, (unsigned long long)t->gmem_unique_bytes,
      (unsigned long long)t->barriers, (unsigned long long)t->mma, (unsigned long long)t->ldmatrix,
      (unsigned long long)t->cp_async_bytes, (unsigned long long)t->tma_bytes,
      (unsigned long long)t->shuffles);
  int top[5], ntop = 0;
  for (int i = 0; i < p->nops; i++) {
    if (!p->ops[i].c.smem_requests) continue;
    int at = ntop;
    while (at > 0 && worse(&p->ops[i], &p->ops[top[at - 1]])) at--;
    if (at >= 5) continue;
    if (ntop < 5) ntop++;
    memmove(top + at + 1, top + at, sizeof *top * (size_t)(ntop - 1 - at));
    top[at] = i;
  }
  for (int i = 0; i < p->nops; i++) {
    const sim_counters *c = &p->ops[i].c;
    if (!c->iterations || !p->blocks) continue;
    char op[256], line[256];
    profile_split_site(p->ops[i].site, op, sizeof op, line, sizeof line);
    fprintf(f, "  loop at %s (%s): %.6g iterations per block\n", line, op,
            (double)c->iterations / (double)p->blocks);
  }
  if (!ntop) return;
  fprintf(f, "  %-28s %-24s %10s %11s %10s %8s\n", "op", "line", "requests", "wavefronts", "conflicts",
          "wf/req");
  for (int i = 0; i < ntop; i++) {
    const sim_counters *c = &p->ops[top[i]].c;
    char op[256], line[256];
    profile_split_site(p->ops[top[i]].site, op, sizeof op, line, sizeof line);
    fprintf(f, "  %-28s %-24s %10llu %11llu %10llu %8.2f\n", op, line, (unsigned long long)c->smem_requests,
            (unsigned long long)c->smem_wavefronts,
            (unsigned long long)(c->smem_wavefronts - c->smem_ideal_wavefronts),
            (double)c->smem_wavefronts / (double)c->smem_requests);
  }
}

static void json_counters(FILE *f, const sim_counters *c) {
  fprintf(f,
          "\"smem_requests\": %llu, \"smem_wavefronts\": %llu, \"smem_ideal_wavefronts\": %llu, "
          "\"smem_conflicts\": %llu, "
          "\"smem_store_requests\": %llu, \"smem_store_wavefronts\": %llu, \"gmem_requests\": %llu, "
          "\"gmem_sectors\": %llu, \"gmem_bytes\": %llu, ",
          (unsigned long long)c->smem_requests, (unsigned long long)c->smem_wavefronts,
          (unsigned long long)c->smem_ideal_wavefronts,
          (unsigned long long)(c->smem_wavefronts - c->smem_ideal_wavefronts),
          (unsigned long long)c->smem_store_requests, (unsigned long long)c->smem_store_wavefronts,
          (unsigned long long)c->gmem_requests, (unsigned long long)c->gmem_sectors,
          (unsigned long long)c->gmem_bytes);
  fprintf(f, "\"gmem_unique_bytes\": %llu, ", (unsigned long long)c->gmem_unique_bytes);
  fprintf(f,
          "\"barriers\": %llu, \"mma\": %llu, \"mma_ops16\": %llu, \"mma_ops8\": %llu, \"mma_ops1\": %llu, "
          "\"ldmatrix\": %llu, \"cp_async_bytes\": %llu, \"shuffles\": %llu, \"iterations\": %llu",
          (unsigned long long)c->barriers, (unsigned long long)c->mma, (unsigned long long)c->mma_ops16,
          (unsigned long long)c->mma_ops8, (unsigned long long)c->mma_ops1, (unsigned long long)c->ldmatrix,
          (unsigned long long)c->cp_async_bytes, (unsigned long long)c->shuffles,
          (unsigned long long)c->iterations);
  fprintf(f, ", \"wgmma_ops16\": %llu, \"wgmma_ops8\": %llu, \"tma_bytes\": %llu",
          (unsigned long long)c->wgmma_ops16, (unsigned long long)c->wgmma_ops8,
          (unsigned long long)c->tma_bytes);
}

void profile_print_json(FILE *f, const char *label, const sim_profile *p) {
  fputs("{\"variant\": ", f);
  api_json_string(f, label);
  fprintf(f, ", \"blocks\": %llu, ", (unsigned long long)p->blocks);
  json_counters(f, &p->total);
  fputs(", \"ops\": [", f);
  for (int i = 0; i < p->nops; i++) {
    char op[256], line[256];
    profile_split_site(p->ops[i].site, op, sizeof op, line, sizeof line);
    fputs(i ? ", {\"op\": " : "{\"op\": ", f);
    api_json_string(f, op);
    fputs(", \"line\": ", f);
    api_json_string(f, line);
    fputs(", ", f);
    json_counters(f, &p->ops[i].c);
    fputc('}', f);
  }
  fputs("]}\n", f);
}

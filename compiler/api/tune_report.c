/*
 * tune_report.c - reading a tuning database back: the result table per problem (the winner and the
 * runners-up with their settings), the accuracy-speed Pareto front, JSON, and the front drawn as SVG.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune.h"

typedef struct {
  char recipe[64], problem[512], device[128], variant[1024], status[16], source[16];
  double time_s, spread_s, error; /* < 0: none */
  int within;                     /* -1 unknown */
} rep_row;

typedef struct {
  rep_row *v;
  int n, cap;
} rep_rows;

static double col_real(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* Every row, grouped by recipe, problem and device, fastest first within a group. */
static int load_rows(kiln_tune_db *db, rep_rows *rows) {
  sqlite3_stmt *st = NULL;
  const char *sql = "SELECT recipe, problem, device, variant, status, time_source, time_s, spread_s, error,"
                    " within_accuracy FROM results ORDER BY recipe, problem, device, status != 'ok',"
                    " time_s IS NULL, time_s, error IS NULL, error, variant";
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
    return api_fail(db->s, KILN_ERR_INPUT, "%s: cannot read results: %s", db->path, sqlite3_errmsg(db->db)),
           -1;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows->n == rows->cap) {
      rows->cap = rows->cap ? 2 * rows->cap : 64;
      rep_row *nv = realloc(rows->v, (size_t)rows->cap * sizeof *nv);
      if (!nv) break;
      rows->v = nv;
    }
    rep_row *r = &rows->v[rows->n++];
    col_text(st, 0, r->recipe, sizeof r->recipe);
    col_text(st, 1, r->problem, sizeof r->problem);
    col_text(st, 2, r->device, sizeof r->device);
    col_text(st, 3, r->variant, sizeof r->variant);
    col_text(st, 4, r->status, sizeof r->status);
    col_text(st, 5, r->source, sizeof r->source);
    r->time_s = col_real(st, 6), r->spread_s = col_real(st, 7), r->error = col_real(st, 8);
    r->within = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 9);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return api_fail(db->s, KILN_ERR_INPUT, "%s: cannot read results: %s", db->path, sqlite3_errmsg(db->db)),
           -1;
  return 0;
}

static int same_group(const rep_row *a, const rep_row *b) {
  return !strcmp(a->recipe, b->recipe) && !strcmp(a->problem, b->problem) && !strcmp(a->device, b->device);
}

/* Ranked: ok, timed, and within the accuracy budget when there is one. */
static int eligible(const rep_row *r, double accuracy) {
  if (strcmp(r->status, "ok") || r->time_s < 0) return 0;
  return !(accuracy > 0 && r->error > accuracy);
}

/* The Pareto front of rows [a, b): indices of ok rows with an error that no faster row beats.
 * Rows are sorted fastest first, so the front is each row with an error below all before it. */
static int pareto(const rep_row *v, int a, int b, int *front) {
  int n = 0;
  double best = INFINITY;
  for (int i = a; i < b; i++)
    if (!strcmp(v[i].status, "ok") && v[i].time_s >= 0 && v[i].error >= 0 && v[i].error < best)
      best = v[i].error, front[n++] = i;
  return n;
}

static void count_status(const rep_row *v, int a, int b, char *out, size_t n) {
  static const char *const names[] = {"ok", "refused", "spilled", "wrong", "timeout", "pruned", "pending"};
  size_t len = (size_t)snprintf(out, n, "%d variants:", b - a);
  for (int s = 0; s < 7 && len < n; s++) {
    int c = 0;
    for (int i = a; i < b; i++) c += !strcmp(v[i].status, names[s]);
    if (c) len += (size_t)snprintf(out + len, n - len, " %d %s", c, names[s]);
  }
}

static void print_entry(FILE *f, const rep_row *r, int rank) {
  char err[32] = "-", spread[40] = "";
  if (r->error >= 0) snprintf(err, sizeof err, "%.3g", r->error);
  if (r->spread_s >= 0) snprintf(spread, sizeof spread, " +- %.2g", r->spread_s);
  fprintf(f, "  %3d  %10.4g s%-12s %-5s  error %-9s %s\n", rank, r->time_s, spread, r->source, err,
          r->variant);
}

static void table_group(FILE *f, const rep_row *v, int a, int b, const kiln_tune_report_opts *o, int *front) {
  char counts[256];
  int top = o->top > 0 ? o->top : 4, rank = 0;
  count_status(v, a, b, counts, sizeof counts);
  fprintf(f, "%s [%s] on %s: %s\n", v[a].recipe, v[a].problem, v[a].device, counts);
  for (int i = a; i < b && rank <= top; i++)
    if (eligible(&v[i], o->accuracy)) print_entry(f, &v[i], ++rank);
  if (!rank) fprintf(f, "  no variant passed%s\n", o->accuracy > 0 ? " within --accuracy" : "");
  int nf = pareto(v, a, b, front);
  if (nf > 1) {
    fprintf(f, "  accuracy-speed front (%d variants, faster first):\n", nf);
    for (int i = 0; i < nf; i++)
      fprintf(f, "       %10.4g s %-5s  error %-9.3g %s%s\n", v[front[i]].time_s, v[front[i]].source,
              v[front[i]].error, v[front[i]].variant,
              o->accuracy > 0 && v[front[i]].error > o->accuracy ? "  (over --accuracy)" : "");
  }
}

static void json_number(FILE *f, double v) {
  if (v < 0)
    fputs("null", f);
  else
    fprintf(f, "%.6g", v);
}

static void json_entry(FILE *f, const rep_row *r, double accuracy) {
  fputs("{\"variant\": ", f);
  api_json_string(f, r->variant);
  fputs(", \"status\": ", f);
  api_json_string(f, r->status);
  fputs(", \"time_s\": ", f);
  json_number(f, r->time_s);
  fputs(", \"spread_s\": ", f);
  json_number(f, r->spread_s);
  fputs(", \"source\": ", f);
  api_json_string(f, r->source);
  fputs(", \"error\": ", f);
  json_number(f, r->error);
  fprintf(f, ", \"within_accuracy\": %s}",
          accuracy > 0 && r->error >= 0 ? (r->error <= accuracy ? "true" : "false") : "null");
}

static void json_group(FILE *f, const rep_row *v, int a, int b, const kiln_tune_report_opts *o, int *front) {
  int top = o->top > 0 ? o->top : 4, rank = 0;
  fputs("{\"recipe\": ", f);
  api_json_string(f, v[a].recipe);
  fputs(", \"problem\": ", f);
  api_json_string(f, v[a].problem);
  fputs(", \"device\": ", f);
  api_json_string(f, v[a].device);
  fprintf(f, ", \"variants\": %d, \"ranking\": [", b - a);
  for (int i = a; i < b && rank <= top; i++)
    if (eligible(&v[i], o->accuracy)) fputs(rank++ ? ", " : "", f), json_entry(f, &v[i], o->accuracy);
  fputs("], \"front\": [", f);
  int nf = pareto(v, a, b, front);
  for (int i = 0; i < nf; i++) fputs(i ? ", " : "", f), json_entry(f, &v[front[i]], o->accuracy);
  fputs("]}", f);
}

kiln_status kiln_tune_report(kiln_tune_db *db, const kiln_tune_report_opts *o, FILE *f) {
  if (!db || !f) return KILN_ERR_USAGE;
  api_begin(db->s);
  kiln_tune_report_opts dflt = {0};
  if (!o) o = &dflt;
  rep_rows rows = {0};
  if (load_rows(db, &rows)) return free(rows.v), KILN_ERR_INPUT;
  int *front = malloc((size_t)(rows.n ? rows.n : 1) * sizeof *front), groups = 0;
  if (!front) return free(rows.v), api_fail(db->s, KILN_ERR_SYSTEM, "out of memory");
  if (o->json) fputs("{\"problems\": [", f);
  for (int a = 0, b; a < rows.n; a = b, groups++) {
    for (b = a + 1; b < rows.n && same_group(&rows.v[a], &rows.v[b]); b++) {
    }
    if (o->json)
      fputs(groups ? ",\n  " : "\n  ", f), json_group(f, rows.v, a, b, o, front);
    else
      fputs(groups ? "\n" : "", f), table_group(f, rows.v, a, b, o, front);
  }
  if (o->json) fputs("\n]}\n", f);
  if (!o->json && !groups) fprintf(f, "%s: no results yet\n", db->path);
  free(front);
  free(rows.v);
  return KILN_OK;
}

/* ---- the front as SVG: time (log) across, error (log) up; one circle per measured variant ---- */

enum { SVG_W = 760, SVG_H = 480, SVG_L = 80, SVG_R = 20, SVG_T = 30, SVG_B = 60 };

typedef struct {
  double x0, x1, y0, y1; /* log10 ranges */
  double floor;          /* errors below it (0: exact) are drawn at it */
} svg_axes;

static double svg_x(const svg_axes *a, double t) {
  return SVG_L + (log10(t) - a->x0) / (a->x1 - a->x0) * (SVG_W - SVG_L - SVG_R);
}

static double svg_y(const svg_axes *a, double e) {
  double v = log10(e > a->floor ? e : a->floor);
  return SVG_H - SVG_B - (v - a->y0) / (a->y1 - a->y0) * (SVG_H - SVG_T - SVG_B);
}

static int plotted(const rep_row *r) { return !strcmp(r->status, "ok") && r->time_s > 0; }

static void svg_ranges(const rep_rows *rows, svg_axes *a) {
  double tmin = INFINITY, tmax = 0, emin = INFINITY, emax = 0;
  for (int i = 0; i < rows->n; i++) {
    const rep_row *r = &rows->v[i];
    if (!plotted(r)) continue;
    tmin = fmin(tmin, r->time_s), tmax = fmax(tmax, r->time_s);
    if (r->error > 0) emin = fmin(emin, r->error), emax = fmax(emax, r->error);
  }
  if (!(tmax > 0)) tmin = 1e-6, tmax = 1e-3;
  if (!(emax > 0)) emin = 1e-8, emax = 1e-2;
  a->floor = emin / 10;
  a->x0 = floor(log10(tmin)), a->x1 = ceil(log10(tmax));
  a->y0 = floor(log10(a->floor)), a->y1 = ceil(log10(emax));
  if (a->x1 <= a->x0) a->x1 = a->x0 + 1;
  if (a->y1 <= a->y0) a->y1 = a->y0 + 1;
}

static void svg_axes_draw(FILE *f, const svg_axes *a) {
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", SVG_L,
          SVG_T, SVG_W - SVG_L - SVG_R, SVG_H - SVG_T - SVG_B);
  for (double d = a->x0; d <= a->x1; d++)
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">1e%g s</text>\n",
            svg_x(a, pow(10, d)), SVG_H - SVG_B + 16, d);
  for (double d = a->y0; d <= a->y1; d++)
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">1e%g</text>\n", SVG_L - 6,
            svg_y(a, pow(10, d)) + 4, d);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">time per launch</text>\n",
          (SVG_L + SVG_W - SVG_R) / 2, SVG_H - 22);
  fprintf(
      f,
      "<text x=\"16\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">max "
      "relative error (exact at the bottom)</text>\n",
      (SVG_T + SVG_H - SVG_B) / 2, (SVG_T + SVG_H - SVG_B) / 2);
}

static void xml_text(FILE *f, const char *s) {
  for (; *s; s++)
    if (*s == '<')
      fputs("&lt;", f);
    else if (*s == '>')
      fputs("&gt;", f);
    else if (*s == '&')
      fputs("&amp;", f);
    else if (*s == '"')
      fputs("&quot;", f);
    else
      fputc(*s, f);
}

static void svg_group(FILE *f, const rep_row *v, int a, int b, const svg_axes *ax, int g, int *front) {
  static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"};
  const char *c = colors[g % 6];
  fprintf(f, "<g class=\"problem\" data-recipe=\"");
  xml_text(f, v[a].recipe);
  fputs("\" data-problem=\"", f);
  xml_text(f, v[a].problem);
  fprintf(f, "\">\n<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">", SVG_L + 8, SVG_T + 16 + 15 * g, c);
  xml_text(f, v[a].recipe);
  fputs(" [", f);
  xml_text(f, v[a].problem);
  fputs("] ", f);
  xml_text(f, v[a].device);
  fputs("</text>\n", f);
  int nf = pareto(v, a, b, front);
  if (nf > 1) {
    fprintf(f, "<polyline class=\"front\" fill=\"none\" stroke=\"%s\" points=\"", c);
    for (int i = 0; i < nf; i++)
      fprintf(f, "%s%.1f,%.1f", i ? " " : "", svg_x(ax, v[front[i]].time_s), svg_y(ax, v[front[i]].error));
    fputs("\"/>\n", f);
  }
  for (int i = a; i < b; i++) {
    if (!plotted(&v[i])) continue;
    fprintf(f, "<circle class=\"variant\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>",
            svg_x(ax, v[i].time_s), svg_y(ax, v[i].error), c);
    xml_text(f, v[i].variant);
    fprintf(f, ": %.4g s (%s), error ", v[i].time_s, v[i].source);
    if (v[i].error >= 0)
      fprintf(f, "%.3g", v[i].error);
    else
      fputs("not checked", f);
    fputs("</title></circle>\n", f);
  }
  fputs("</g>\n", f);
}

kiln_status kiln_tune_plot(kiln_tune_db *db, const kiln_tune_report_opts *o, FILE *f) {
  (void)o;
  if (!db || !f) return KILN_ERR_USAGE;
  api_begin(db->s);
  rep_rows rows = {0};
  svg_axes ax;
  if (load_rows(db, &rows)) return free(rows.v), KILN_ERR_INPUT;
  int *front = malloc((size_t)(rows.n ? rows.n : 1) * sizeof *front), g = 0;
  if (!front) return free(rows.v), api_fail(db->s, KILN_ERR_SYSTEM, "out of memory");
  svg_ranges(&rows, &ax);
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          SVG_W, SVG_H, SVG_W, SVG_H);
  svg_axes_draw(f, &ax);
  for (int a = 0, b; a < rows.n; a = b, g++) {
    for (b = a + 1; b < rows.n && same_group(&rows.v[a], &rows.v[b]); b++) {
    }
    svg_group(f, rows.v, a, b, &ax, g, front);
  }
  fputs("</svg>\n", f);
  free(front);
  free(rows.v);
  return KILN_OK;
}

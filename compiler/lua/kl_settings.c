/*
 * kl_settings.c - parameters and settings: NAME=VALUE text checked against the recipe's
 * declaration (kl_recipe.h). A value must suit its parameter: a whole number where the default is
 * one, a number where the default is a number, 0/1/true/false for a flag (held as 0 or 1), and one
 * of the declared values for a closed parameter (a knob of strings or flags, a parameter declared
 * with its values); a knob of numbers may be set outside its declared space. Spaces around the
 * name and the value do not count. Errors name the recipe file, the setting and the recipe's
 * parameters. A knob whose default is a function(p) follows the other settings until it is given
 * itself: every kl_settings_apply recomputes it (kl_settings_derive, kl_run.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kl_lib.h"

static const kl_param *find_param(kl_recipe *r, const char *name, size_t n) {
  for (int i = 0; i < r->nparams; i++)
    if (strlen(r->params[i].name) == n && !memcmp(r->params[i].name, name, n)) return &r->params[i];
  return NULL;
}

void kl_param_list(kl_recipe *r, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < r->nparams && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", r->params[i].name);
}

static int is_whole(const char *s) {
  char *end;
  if (!*s) return 0;
  (void)strtoll(s, &end, 10);
  return *end == 0;
}

static int is_number(const char *s) {
  char *end;
  if (!*s) return 0;
  (void)strtod(s, &end);
  return *end == 0;
}

/* "true"/"false" of a flag become "1"/"0" (v has room for them). */
static int flag_value(const kl_param *p, char *v, char *err, size_t errn) {
  if (!strcmp(v, "true")) strcpy(v, "1");
  if (!strcmp(v, "false")) strcpy(v, "0");
  if (!strcmp(v, "0") || !strcmp(v, "1")) return 0;
  return snprintf(err, errn, "parameter '%s' is a flag (0, 1, true or false); got '%s'", p->name, v), -1;
}

static int same_value(const kl_param *p, const char *a, const char *b) {
  return is_number(p->dflt) ? strtod(a, NULL) == strtod(b, NULL) : !strcmp(a, b);
}

/* A value must have its parameter's kind: whole numbers for whole defaults, numbers for numbers,
 * 0/1/true/false for flags, one of the declared values for a closed parameter. */
int kl_param_check(const kl_param *p, char *v, char *err, size_t errn) {
  if (!*v) return snprintf(err, errn, "parameter '%s' needs a value", p->name), -1;
  if (strlen(v) >= sizeof p->dflt) return snprintf(err, errn, "the value of '%s' is too long", p->name), -1;
  if (p->flag && flag_value(p, v, err, errn)) return -1;
  if (is_whole(p->dflt) && !is_whole(v))
    return snprintf(err, errn, "parameter '%s' is a whole number, got '%s'", p->name, v), -1;
  if (is_number(p->dflt) && !is_number(v))
    return snprintf(err, errn, "parameter '%s' is a number, got '%s'", p->name, v), -1;
  if (!p->closed) return 0;
  for (int i = 0; i < p->nvalues; i++)
    if (same_value(p, p->values[i], v)) return 0;
  int len = snprintf(err, errn, "parameter '%s' is one of", p->name);
  for (int i = 0; i < p->nvalues && len < (int)errn; i++)
    len += snprintf(err + len, errn - (size_t)len, "%s %s", i ? "," : "", p->values[i]);
  if (len < (int)errn) snprintf(err + len, errn - (size_t)len, "; got '%s'", v);
  return -1;
}

/* The span [s, s + n) without the spaces around it. */
static const char *trim(const char *s, size_t *n) {
  while (*n && isspace((unsigned char)*s)) s++, (*n)--;
  while (*n && isspace((unsigned char)s[*n - 1])) (*n)--;
  return s;
}

void kl_recipe_defaults(kl_recipe *r, kl_settings *s) {
  s->n = r->nparams;
  for (int i = 0; i < r->nparams; i++) {
    s->v[i].name = r->params[i].name;
    snprintf(s->v[i].value, sizeof s->v[i].value, "%s", r->params[i].dflt);
    s->v[i].given = 0;
  }
  s->target = NULL;
}

/* One setting into s; with derive, the computed defaults after it (s as it was if they fail). */
static int apply(kl_recipe *r, kl_settings *s, const char *name_eq_value, int derive, char *err,
                 size_t errn) {
  char list[512], why[512], value[64];
  const char *eq = strchr(name_eq_value, '=');
  size_t nlen = eq ? (size_t)(eq - name_eq_value) : 0, vlen = eq ? strlen(eq + 1) : 0;
  const char *name = trim(name_eq_value, &nlen), *v = eq ? trim(eq + 1, &vlen) : NULL;
  if (!eq || !nlen) {
    kl_param_list(r, list, sizeof list);
    snprintf(err, errn, "%s: setting '%s' is not NAME=VALUE (parameters: %s)", r->path, name_eq_value, list);
    return -1;
  }
  const kl_param *p = find_param(r, name, nlen);
  if (!p) {
    kl_param_list(r, list, sizeof list);
    snprintf(err, errn, "%s: unknown parameter '%.*s' (parameters: %s)", r->path, (int)nlen, name, list);
    return -1;
  }
  if (vlen >= sizeof value)
    return snprintf(err, errn, "%s: the value of '%s' is too long", r->path, p->name), -1;
  snprintf(value, sizeof value, "%.*s", (int)vlen, v);
  if (kl_param_check(p, value, why, sizeof why)) {
    snprintf(err, errn, "%s: %s", r->path, why);
    return -1;
  }
  int i = 0;
  while (i < s->n && strcmp(s->v[i].name, p->name)) i++;
  if (i == s->n && s->n == KL_MAXSET) return snprintf(err, errn, "too many settings"), -1;
  kl_setting was = i < s->n ? s->v[i] : (kl_setting){0};
  if (i == s->n) s->n++;
  s->v[i].name = p->name;
  snprintf(s->v[i].value, sizeof s->v[i].value, "%s", value);
  s->v[i].given = 1;
  if (derive && r->ncomputed && kl_settings_derive(r, s, err, errn)) { /* s as it was */
    if (was.name)
      s->v[i] = was;
    else
      s->n--;
    return -1;
  }
  return 0;
}

int kl_settings_apply(kl_recipe *r, kl_settings *s, const char *name_eq_value, char *err, size_t errn) {
  return apply(r, s, name_eq_value, 1, err, errn);
}

int kl_settings_apply_all(kl_recipe *r, kl_settings *s, const char **nv, int n, char *err, size_t errn) {
  kl_settings was = *s;
  for (int i = 0; i < n; i++)
    if (apply(r, s, nv[i], 0, err, errn)) return *s = was, -1;
  if (r->ncomputed && kl_settings_derive(r, s, err, errn)) return *s = was, -1;
  return 0;
}

const char *kl_settings_get(const kl_settings *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].name, name)) return s->v[i].value;
  return NULL;
}

int kl_settings_given(const kl_settings *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].name, name)) return s->v[i].given;
  return 0;
}

/* The setting of a recipe parameter: from s, else its default; NULL if not a parameter. */
const char *kl_setting_value(kl_recipe *r, const kl_settings *s, const char *name) {
  const kl_param *p = find_param(r, name, strlen(name));
  if (!p) return NULL;
  const char *v = kl_settings_get(s, name);
  return v ? v : p->dflt;
}

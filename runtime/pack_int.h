/*
 * pack_int.h - what the pack loader's files (pack_read.c, pack_expr.c, pack_launch.c) share: the
 * parsed pack. The public side is include/kiln_rt.h; the format is docs/packs.md.
 */
#ifndef KILN_PACK_INT_H
#define KILN_PACK_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/kiln_rt.h"
#include "rt.h"

enum {
  PACK_MAXSIZES = KILN_PACK_MAXSIZES,
  PACK_MAXARGS = KILN_PACK_MAXARGS,
  PACK_MAXTARGETS = 16,
  PACK_MAXIMAGES = 2 * PACK_MAXTARGETS, /* per variant: PTX and a cubin per target */
  PACK_MAXDEVICES = 16,
};

/* Section kinds (docs/packs.md, "Sections"). */
enum { PACK_SECT_MANIFEST = 1, PACK_SECT_IMAGE = 2 };

typedef struct {
  int target;   /* index into the pack's targets */
  int is_cubin; /* 0: PTX */
  int image;    /* index into the pack's images */
} pack_image_ref;

typedef struct {
  const char *symbol; /* the kernel's name in its module */
  int threads, shared;
  const char *settings;
  int64_t bucket[PACK_MAXSIZES];
  const char *grid[3];
  const char *dims[PACK_MAXARGS][3]; /* tensor args */
  const char *value[PACK_MAXARGS];   /* scalar args */
  int nimages;
  pack_image_ref images[PACK_MAXIMAGES];
  rt_kernel *loaded[PACK_MAXDEVICES]; /* per device ordinal, loaded on first launch */
  /* format 2: images for launches whose arguments in amask (bit i: argument i) are aligned, a
   * tensor's address to 16 bytes, an integer scalar a multiple of 16 (docs/packs.md) */
  uint64_t amask;
  int naimages;
  pack_image_ref aimages[PACK_MAXIMAGES];
  rt_kernel *aloaded[PACK_MAXDEVICES];
} pack_variant;

typedef struct {
  const char *name, *type;
  int is_tensor, role, rank, bytes;
} pack_arg;

typedef struct {
  const char *name;
  int nsizes;
  const char *sizes[PACK_MAXSIZES];
  int nargs, ntensors;
  pack_arg args[PACK_MAXARGS];
  int nvariants;
  pack_variant *v;
} pack_kernel;

typedef struct {
  const unsigned char *data;
  size_t size;
} pack_image;

struct kiln_pack {
  char *path;
  unsigned char *file; /* the whole file */
  size_t size;
  int format;
  char *manifest; /* a NUL-terminated copy, cut into fields in place */
  const char *writer;
  int ntargets;
  const char *targets[PACK_MAXTARGETS];
  int nkernels;
  pack_kernel *k;
  int nimages;
  pack_image *img;
  pthread_mutex_t lock;
  rt_device *dev[PACK_MAXDEVICES];
};

/* pack_expr.c: expressions (docs/packs.md, "Expressions"). */
int pack_expr_eval(const char *e, const int64_t *sizes, int nsizes, int64_t *out, char *err, size_t errn);
int pack_expr_check(const char *e, int nsizes, char *err, size_t errn);
int pack_expr_is_float(const char *e);
double pack_expr_float(const char *e);

/* pack_manifest.c: parses p->manifest into p's kernels; -1 with "line N: why". */
int pack_manifest_parse(kiln_pack *p, char *err, size_t errn);

/* zlib's CRC-32 of n bytes, continued from crc (start from 0), in pieces that fit zlib's uInt. */
uint32_t pack_crc32(uint32_t crc, const void *data, size_t n);

/* Bytes of one element of type name ("f16": 2); 0 if unknown. */
int pack_type_bytes(const char *name);
/* 1 for a float type (f64 f32 f16 bf16 e4m3 e5m2), 0 for the integers. */
int pack_type_is_float(const char *name);

#endif

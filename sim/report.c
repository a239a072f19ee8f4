/*
 * report.c - formatting thread sets for the simulator's one-line reports.
 *
 * An ascending list of tids prints as ranges: "thread 5", "threads 0..15", "threads 0..15,32..47";
 * after four ranges the rest is elided with the total count: "threads 0,2,4,6,... (32 threads)".
 */
#include <stdio.h>

#include "sim_int.h"

void sim_fmt_threads(char *buf, size_t n, const int *tids, int count) {
  if (count == 0) {
    snprintf(buf, n, "no thread");
    return;
  }
  if (count == 1) {
    snprintf(buf, n, "thread %d", tids[0]);
    return;
  }
  size_t len = (size_t)snprintf(buf, n, "threads ");
  int ranges = 0, i = 0;
  while (i < count && len < n) {
    int j = i;
    while (j + 1 < count && tids[j + 1] == tids[j] + 1) j++;
    if (ranges == 4) {
      snprintf(buf + len, n - len, ",... (%d threads)", count);
      return;
    }
    const char *sep = ranges ? "," : "";
    if (j == i)
      len += (size_t)snprintf(buf + len, n - len, "%s%d", sep, tids[i]);
    else
      len += (size_t)snprintf(buf + len, n - len, "%s%d..%d", sep, tids[i], tids[j]);
    ranges++;
    i = j + 1;
  }
}

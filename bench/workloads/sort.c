/* Sorts SORT_MAX 32-bit integers (4 MiB) with a quicksort (median of
 * three, insertion sort for short runs) and returns a checksum. */
#include "workloads.h"

#define SORT_MAX (1 << 20)

static int32_t arr[SORT_MAX];

static void insertion(int32_t *a, int32_t n) {
  int32_t i, j;
  for (i = 1; i < n; i++) {
    int32_t v = a[i];
    for (j = i; j > 0 && a[j - 1] > v; j--)
      a[j] = a[j - 1];
    a[j] = v;
  }
}

static void quick(int32_t *a, int32_t n) {
  while (n > 16) {
    int32_t m = n / 2, i = 0, j = n - 1, pivot, t;
    /* Median of three into a[m]. */
    if (a[0] > a[m]) { t = a[0]; a[0] = a[m]; a[m] = t; }
    if (a[m] > a[n - 1]) { t = a[m]; a[m] = a[n - 1]; a[n - 1] = t; }
    if (a[0] > a[m]) { t = a[0]; a[0] = a[m]; a[m] = t; }
    pivot = a[m];
    for (;;) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i >= j) break;
      t = a[i]; a[i] = a[j]; a[j] = t;
      i++;
      j--;
    }
    /* Recurse into the smaller half, loop on the larger. */
    if (j + 1 < n - j - 1) {
      quick(a, j + 1);
      a += j + 1;
      n -= j + 1;
    } else {
      quick(a + j + 1, n - j - 1);
      n = j + 1;
    }
  }
  insertion(a, n);
}

PKWL_EXPORT(pkwl_sort) uint32_t pkwl_sort(int32_t n, uint32_t seed) {
  uint32_t s = seed ? seed : 1, sum = 0;
  int32_t i;
  if (n > SORT_MAX)
    n = SORT_MAX;
  for (i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    arr[i] = (int32_t)s;
  }
  quick(arr, n);
  for (i = 1; i < n; i++)
    if (arr[i - 1] > arr[i])
      return 0;   /* not sorted: a wrong answer the bench would show */
  for (i = 0; i < n; i += 997)
    sum = sum * 31u + (uint32_t)arr[i];
  return sum;
}

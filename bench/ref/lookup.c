/*
 * Reference for the session-table lookup benchmark (bench/sessions.bench.ts):
 * the same layout as src/session/table-index.ts, in C, on the same machine.
 * 64-byte session blocks (ports at word 2 + dir, addresses at word 4 +
 * dir * 2), one 4-byte index entry per tuple, (id << 1 | dir) with a 6-bit
 * fingerprint above it, linear probing, the index doubling from 4096 slots
 * up to capacity * 8/3 as sessions are added (load <= 3/4). The same keys:
 * random hits over the live sessions, half by the original tuple, half by
 * the reply tuple.
 *
 * Prints, per live count, the median ns per lookup over the rounds, two ways:
 * one key at a time, and in groups of 32 with the index slot and then the
 * session block prefetched (__builtin_prefetch) before the compares.
 * It tells how much of the 1M/10k ratio is the machine's memory rather than
 * the language: it is measured, not compiled into sdev.
 *
 * Usage: lookup CAPACITY LOOKUPS ROUNDS LIVE...   (output: "LIVE simple_ns prefetch_ns")
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIDE 16
#define ENTRY 0x1ffffff
#define FP_MASK (63u << 25)
#define EMPTY (-1)
#define GROUP 32

static uint32_t *w;
static int32_t *idx;
static uint64_t slots, max_slots;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static uint32_t hash(uint32_t src, uint32_t dst, uint32_t ports) {
  uint32_t h = 0x9747b28cu ^ 0x5bd1e995u;
  uint32_t k[3] = {ports, src, dst};
  for (int i = 0; i < 3; i++) {
    uint32_t x = k[i] * 0xcc9e2d51u;
    x = (x << 15 | x >> 17) * 0x1b873593u;
    h ^= x;
    h = (h << 13 | h >> 19) * 5 + 0xe6546b64u;
  }
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

static uint64_t slot_of(uint32_t h) { return ((uint64_t)h * slots) >> 32; }

static void place(uint32_t entry) {
  uint32_t *b = w + (uint64_t)(entry >> 1) * STRIDE;
  uint32_t dir = entry & 1;
  uint32_t h = hash(b[4 + dir * 2], b[5 + dir * 2], b[2 + dir]);
  uint64_t i = slot_of(h);
  while (idx[i] != EMPTY) i = i + 1 == slots ? 0 : i + 1;
  idx[i] = (int32_t)(entry | (h & 63) << 25);
}

static void grow(uint64_t n, uint64_t live) {
  slots = n;
  free(idx);
  idx = malloc(slots * 4);
  memset(idx, 0xff, slots * 4);
  for (uint64_t id = 0; id < live; id++) {
    place(id << 1);
    place(id << 1 | 1);
  }
}

static int32_t probe(uint64_t i, uint32_t fp, uint32_t s, uint32_t d, uint32_t p) {
  for (;;) {
    int32_t e = idx[i];
    if (e == EMPTY) return -1;
    if (((uint32_t)e & FP_MASK) == fp) {
      uint32_t dir = e & 1;
      uint32_t *b = w + (uint64_t)((e & ENTRY) >> 1) * STRIDE;
      if (b[2 + dir] == p && b[4 + dir * 2] == s && b[5 + dir * 2] == d) return e & ENTRY;
    }
    i = i + 1 == slots ? 0 : i + 1;
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: lookup CAPACITY LOOKUPS ROUNDS LIVE...\n");
    return 2;
  }
  uint64_t cap = strtoull(argv[1], 0, 10), L = strtoull(argv[2], 0, 10);
  int rounds = atoi(argv[3]);
  max_slots = cap * 8 / 3 + 1;
  w = aligned_alloc(64, cap * 64);
  uint32_t *ks = malloc(L * 4), *kd = malloc(L * 4), *kp = malloc(L * 4);
  int32_t *out = malloc(L * 4);
  double *t1 = malloc(rounds * sizeof(double)), *t2 = malloc(rounds * sizeof(double));
  for (int a = 4; a < argc; a++) {
    uint64_t live = strtoull(argv[a], 0, 10);
    if (live > cap) return 2;
    memset(w, 0, cap * 64);
    idx = 0;
    uint64_t n = 4096 < max_slots ? 4096 : max_slots;
    while (live * 2 * 4 > n * 3 && n < max_slots) n = n * 2 < max_slots ? n * 2 : max_slots;
    for (uint64_t i = 0; i < live; i++) {
      uint32_t c = 0x0a000000u | (uint32_t)(i + 1), s = 0xc6120000u | (uint32_t)((i * 2654435761u) % 0x1fffe + 1);
      uint32_t p = 1024 + (uint32_t)(i * 40503 % 64000);
      uint32_t *b = w + i * STRIDE;
      b[2] = p << 16 | 443;
      b[3] = 443u << 16 | p;
      b[4] = c, b[5] = s, b[6] = s, b[7] = c;
    }
    grow(n, live);
    uint64_t x = 88172645463325252ull;
    for (uint64_t j = 0; j < L; j++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      uint64_t i = x % live;
      uint32_t *b = w + i * STRIDE;
      uint32_t dir = (x >> 40) & 1;
      ks[j] = b[4 + dir * 2], kd[j] = b[5 + dir * 2], kp[j] = b[2 + dir];
    }
    for (int r = 0; r < rounds + 1; r++) {
      double a0 = now_ns();
      for (uint64_t j = 0; j < L; j++) {
        uint32_t h = hash(ks[j], kd[j], kp[j]);
        out[j] = probe(slot_of(h), (h & 63) << 25, ks[j], kd[j], kp[j]);
      }
      double a1 = now_ns();
      uint32_t hh[GROUP];
      uint64_t sl[GROUP];
      for (uint64_t at = 0; at + GROUP <= L; at += GROUP) {
        for (int k = 0; k < GROUP; k++) {
          uint32_t h = hash(ks[at + k], kd[at + k], kp[at + k]);
          hh[k] = h, sl[k] = slot_of(h);
          __builtin_prefetch(idx + sl[k]);
        }
        for (int k = 0; k < GROUP; k++) {
          int32_t e = idx[sl[k]];
          if (e != EMPTY) __builtin_prefetch(w + (uint64_t)((e & ENTRY) >> 1) * STRIDE);
        }
        for (int k = 0; k < GROUP; k++)
          out[at + k] = probe(sl[k], (hh[k] & 63) << 25, ks[at + k], kd[at + k], kp[at + k]);
      }
      double a2 = now_ns();
      for (uint64_t j = 0; j + GROUP <= L; j++)
        if (out[j] < 0) {
          fprintf(stderr, "lookup %llu missed\n", (unsigned long long)j);
          return 1;
        }
      if (r > 0) t1[r - 1] = (a1 - a0) / L, t2[r - 1] = (a2 - a1) / (L - L % GROUP);
    }
    qsort(t1, rounds, sizeof(double), cmp);
    qsort(t2, rounds, sizeof(double), cmp);
    printf("%llu %.1f %.1f\n", (unsigned long long)live, t1[rounds / 2], t2[rounds / 2]);
  }
  return 0;
}

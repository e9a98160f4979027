/* Run-time tier detection: CPUID for the instructions, XGETBV for the OS saving the registers. */
#include "dh_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

int32_t dh_detect_tier(void) {
  uint32_t a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) {
    return 0;
  }
  const int popcnt = (c >> 23) & 1;
  const int osxsave = (c >> 27) & 1;
  const int avx = (c >> 28) & 1;
  const int fma = (c >> 12) & 1;
  if (!popcnt) {
    return 0;
  }
  int32_t tier = 1;
  if (!osxsave || !avx) {
    return tier;
  }
  const uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) { /* XMM and YMM state */
    return tier;
  }
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    return tier;
  }
  if (((b >> 5) & 1) && fma) { /* AVX2, and FMA for the Euclidean kernels (every AVX2 CPU has it) */
    tier = 2;
  }
  const int avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, vpopcntdq = (c >> 14) & 1;
  if (tier == 2 && avx512f && avx512bw && vpopcntdq && (xcr0 & 0xe0) == 0xe0) { /* opmask, ZMM */
    tier = 3;
  }
  return tier;
}
#else
/* Elsewhere only the portable scalar kernels are built (the compiler picks its own popcount). */
int32_t dh_detect_tier(void) { return 1; }
#endif

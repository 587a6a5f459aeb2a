// The one place that includes the x86 intrinsics headers. GCC 12 reports false
// -Wmaybe-uninitialized warnings from inside avx512fintrin.h (the _mm512_undefined_*
// operands of inlined intrinsics); they are silenced for those header lines only.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

// The hot loops for the target's baseline instruction set (every CPU of the family runs them).
#include <cstddef>
#include <cstdint>

#include "simd/kernel_table.h"

#define POCKETREC_KERNEL_NS baseline
#define POCKETREC_KERNEL_ISA_NAME "baseline"
#define POCKETREC_KERNEL_TARGET
#include "simd/kernels.inc"

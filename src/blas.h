// blas.h - the CPU kernels of OpenBLAS. Built with DYNAMIC_ARCH (as Debian builds it), OpenBLAS picks
// its kernels from the CPU's model number when it loads, and 0.3.21 (Debian 12) does not know newer
// CPUs: on a Sapphire Rapids Xeon in a VM it falls back to its SSE3 "Prescott" kernels, and float32
// matrix products run at 51-55 GFLOP/s on 2 cores instead of 224 (a SmolLM2-135M training step:
// 10.6-11.2 s instead of 4.1-4.3 s). OPENBLAS_CORETYPE overrides the choice, but only when it is set
// before the library loads, that is before main().
#pragma once

#include <string>

namespace retain::blas {

// The OpenBLAS kernel family for the CPU's instruction sets: "SkylakeX" (AVX-512: its float32
// kernels are those of the newer families), "Haswell" (AVX2 and FMA); "" otherwise (and off x86-64).
std::string core_for_cpu();

// The kernels the loaded OpenBLAS runs ("Prescott", "SkylakeX", ...); "" when there is no OpenBLAS.
std::string loaded_core();

// Whether `core` names one of OpenBLAS's x86-64 kernel families from before AVX2 ("Prescott", ...).
bool older_than_avx2(const std::string& core);

// When OpenBLAS loaded kernels older than AVX2 on a CPU that has AVX2 and OPENBLAS_CORETYPE is not
// set, sets it to core_for_cpu() and runs the program again with the same arguments (execv of
// /proc/self/exe). Returns when there is nothing to do, or when the exec fails (the program then
// goes on with the old kernels).
void run_on_the_cpus_kernels(char** argv);

}  // namespace retain::blas

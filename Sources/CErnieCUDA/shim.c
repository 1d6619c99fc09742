#define _GNU_SOURCE 1
#include <dlfcn.h>

#include "CErnieCUDA.h"

// ABI assumptions the Swift side relies on (x86-64 / aarch64 Linux, LP64).
_Static_assert(sizeof(ernie_CUdeviceptr) == 8, "CUdeviceptr is 64-bit");
_Static_assert(sizeof(ernie_CUresult) == 4, "CUresult is int-sized");
_Static_assert(sizeof(void *) == 8, "64-bit pointers");
_Static_assert(sizeof(size_t) == 8, "64-bit size_t");
_Static_assert(sizeof(ernie_cublasLtMatmulAlgo) == 64, "cublasLtMatmulAlgo_t is 8 x uint64");
_Static_assert(sizeof(ernie_cublasLtMatmulHeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t layout");
_Static_assert(offsetof(ernie_cublasLtMatmulHeuristicResult, workspaceSize) == 64, "workspaceSize offset");
_Static_assert(offsetof(ernie_cublasLtMatmulHeuristicResult, state) == 72, "state offset");
_Static_assert(offsetof(ernie_cublasLtMatmulHeuristicResult, wavesCount) == 76, "wavesCount offset");

size_t ernie_cublasLtHeuristicResultSize(void) { return sizeof(ernie_cublasLtMatmulHeuristicResult); }

const char *ernie_dl_path_of(const void *address) {
    Dl_info info;
    if (address == NULL || dladdr(address, &info) == 0) return NULL;
    return info.dli_fname;
}

// Checks Sources/CErnieCUDA/include/CErnieNCCL.h against the real nccl.h and cuda.h: every function-pointer type
// must accept the real function (same signature), every constant must equal the real enum value, and the
// hand-written CUDA_MEMCPY2D must have the real layout. Run by scripts/gpu/check_nccl_abi.sh. nccl.h declares
// ncclGroupStart and ncclGroupEnd with `()` (no prototype in C), so only their return types are checked.
#define ERNIE_CHECK_WITH_CUDA_HEADERS 1
#define ERNIE_CHECK_WITH_NCCL_HEADERS 1
#include <stddef.h>
#include "CErnieNCCL.h"

#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " != " #b)
SAME(ERNIE_NCCL_UNIQUE_ID_BYTES, NCCL_UNIQUE_ID_BYTES);
SAME(ERNIE_NCCL_SUCCESS, ncclSuccess);
SAME(ERNIE_NCCL_IN_PROGRESS, ncclInProgress);
SAME(ERNIE_NCCL_FLOAT32, ncclFloat32);
SAME(ERNIE_NCCL_BFLOAT16, ncclBfloat16);
SAME(ERNIE_NCCL_SUM, ncclSum);
SAME(ERNIE_CU_MEMORYTYPE_DEVICE, CU_MEMORYTYPE_DEVICE);
_Static_assert(sizeof(ncclUniqueId) == 128, "ncclUniqueId is passed by value: 128 bytes");
_Static_assert(sizeof(ncclResult_t) == sizeof(int) && sizeof(ncclDataType_t) == sizeof(int) &&
                   sizeof(ncclRedOp_t) == sizeof(int),
               "int-sized enums (the Swift side passes Int32)");
_Static_assert(sizeof(CUDA_MEMCPY2D) == 128, "CUDA_MEMCPY2D size");
_Static_assert(offsetof(CUDA_MEMCPY2D, dstDevice) == 88, "CUDA_MEMCPY2D.dstDevice offset (ernie_memcpy2d_offset_of_dst_device)");

// Each entry: the exact symbol ErnieCUDA passes to dlsym, assigned to its function-pointer type.
#define FN(type, symbol) type check_##symbol = &symbol
FN(ernie_ncclGetVersion_fn, ncclGetVersion);
FN(ernie_ncclGetUniqueId_fn, ncclGetUniqueId);
FN(ernie_ncclCommInitRank_fn, ncclCommInitRank);
FN(ernie_ncclCommInitAll_fn, ncclCommInitAll);
FN(ernie_ncclCommDestroy_fn, ncclCommDestroy);
FN(ernie_ncclCommAbort_fn, ncclCommAbort);
FN(ernie_ncclGetErrorString_fn, ncclGetErrorString);
FN(ernie_ncclGetLastError_fn, ncclGetLastError);
FN(ernie_ncclCommGetAsyncError_fn, ncclCommGetAsyncError);
FN(ernie_ncclAllReduce_fn, ncclAllReduce);
FN(ernie_ncclAllGather_fn, ncclAllGather);
FN(ernie_ncclGroupStart_fn, ncclGroupStart);
FN(ernie_ncclGroupEnd_fn, ncclGroupEnd);
FN(ernie_cuMemcpy2DAsync_fn, cuMemcpy2DAsync_v2);

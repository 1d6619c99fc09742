#ifndef CERNIENCCL_H
#define CERNIENCCL_H

// Hand-written declarations of the parts of NCCL (libnccl.so.2, resolved with dlsym by
// Sources/ErnieCUDA/NCCL/NCCLLibrary.swift) and of the one extra driver call the NCCL communicator uses
// (cuMemcpy2DAsync_v2, for the column gather of vocabulary-split logits). No NCCL header is needed to build.
//
// Checked against the real nccl.h / cuda.h by scripts/gpu/check_nccl_abi.sh (compiles scripts/gpu/check_nccl_abi.c,
// which defines ERNIE_CHECK_WITH_CUDA_HEADERS and ERNIE_CHECK_WITH_NCCL_HEADERS: these types become aliases of the real
// ones, so a wrong function-pointer type or constant is a compile error; run by ABICheckTests when nccl.h is found).

#include <stddef.h>
#include <stdint.h>

// The CUDA handle types (ernie_CUstream, ernie_CUresult, ernie_CUdeviceptr). CErnieCUDA.h includes this file at its
// end; the include guards make either order work.
#include "CErnieCUDA.h"

#ifdef ERNIE_CHECK_WITH_NCCL_HEADERS
#include <nccl.h>
typedef ncclResult_t ernie_ncclResult;
typedef ncclComm_t ernie_ncclComm;
typedef ncclUniqueId ernie_ncclUniqueId;
typedef ncclDataType_t ernie_ncclDataType;
typedef ncclRedOp_t ernie_ncclRedOp;
#else
/// `ncclResult_t` (an int-sized enum; 0 = ncclSuccess).
typedef int ernie_ncclResult;
typedef struct ernie_ncclComm_st *ernie_ncclComm;
/// `ncclUniqueId`: 128 opaque bytes (`NCCL_UNIQUE_ID_BYTES`), passed BY VALUE to ncclCommInitRank.
typedef struct {
    char internal[128];
} ernie_ncclUniqueId;
typedef int ernie_ncclDataType;
typedef int ernie_ncclRedOp;
#endif

#ifdef ERNIE_CHECK_WITH_CUDA_HEADERS
typedef CUDA_MEMCPY2D ernie_CUDA_MEMCPY2D;
#else
/// `CUDA_MEMCPY2D` (cuda.h, `CUDA_MEMCPY2D_v2`): 128 bytes on LP64.
typedef struct {
    size_t srcXInBytes;
    size_t srcY;
    int srcMemoryType;
    const void *srcHost;
    ernie_CUdeviceptr srcDevice;
    void *srcArray;
    size_t srcPitch;
    size_t dstXInBytes;
    size_t dstY;
    int dstMemoryType;
    void *dstHost;
    ernie_CUdeviceptr dstDevice;
    void *dstArray;
    size_t dstPitch;
    size_t WidthInBytes;
    size_t Height;
} ernie_CUDA_MEMCPY2D;
#endif

#define ERNIE_NCCL_UNIQUE_ID_BYTES 128
#define ERNIE_NCCL_SUCCESS 0
#define ERNIE_NCCL_IN_PROGRESS 7
#define ERNIE_NCCL_FLOAT32 7
#define ERNIE_NCCL_BFLOAT16 9
#define ERNIE_NCCL_SUM 0
/// `CU_MEMORYTYPE_DEVICE`.
#define ERNIE_CU_MEMORYTYPE_DEVICE 2

typedef ernie_ncclResult (*ernie_ncclGetVersion_fn)(int *version);
typedef ernie_ncclResult (*ernie_ncclGetUniqueId_fn)(ernie_ncclUniqueId *uniqueId);
typedef ernie_ncclResult (*ernie_ncclCommInitRank_fn)(ernie_ncclComm *comm, int nranks, ernie_ncclUniqueId commId,
                                                      int rank);
typedef ernie_ncclResult (*ernie_ncclCommInitAll_fn)(ernie_ncclComm *comms, int ndev, const int *devlist);
typedef ernie_ncclResult (*ernie_ncclCommDestroy_fn)(ernie_ncclComm comm);
typedef ernie_ncclResult (*ernie_ncclCommAbort_fn)(ernie_ncclComm comm);
typedef const char *(*ernie_ncclGetErrorString_fn)(ernie_ncclResult result);
typedef const char *(*ernie_ncclGetLastError_fn)(ernie_ncclComm comm);
typedef ernie_ncclResult (*ernie_ncclCommGetAsyncError_fn)(ernie_ncclComm comm, ernie_ncclResult *asyncError);
typedef ernie_ncclResult (*ernie_ncclAllReduce_fn)(const void *sendbuff, void *recvbuff, size_t count,
                                                   ernie_ncclDataType datatype, ernie_ncclRedOp op,
                                                   ernie_ncclComm comm, ernie_CUstream stream);
typedef ernie_ncclResult (*ernie_ncclAllGather_fn)(const void *sendbuff, void *recvbuff, size_t sendcount,
                                                   ernie_ncclDataType datatype, ernie_ncclComm comm,
                                                   ernie_CUstream stream);
typedef ernie_ncclResult (*ernie_ncclGroupStart_fn)(void);
typedef ernie_ncclResult (*ernie_ncclGroupEnd_fn)(void);

typedef ernie_CUresult (*ernie_cuMemcpy2DAsync_fn)(const ernie_CUDA_MEMCPY2D *copy, ernie_CUstream stream);

/// Calls `ncclCommInitRank` with the unique id passed by value, as its C signature requires (Swift hands the id
/// over by pointer).
ernie_ncclResult ernie_nccl_comm_init_rank(ernie_ncclCommInitRank_fn function, ernie_ncclComm *comm, int nranks,
                                           const ernie_ncclUniqueId *id, int rank);

/// `sizeof(ernie_CUDA_MEMCPY2D)` and the offsets the Swift side relies on, for the host-side ABI test.
size_t ernie_memcpy2d_size(void);
size_t ernie_memcpy2d_offset_of_dst_device(void);

#endif

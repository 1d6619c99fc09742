#include <stddef.h>

#include "CErnieCUDA.h"

// ABI assumptions the Swift side of the NCCL communicator relies on (LP64 Linux).
_Static_assert(sizeof(ernie_ncclUniqueId) == ERNIE_NCCL_UNIQUE_ID_BYTES, "ncclUniqueId is 128 bytes");
_Static_assert(sizeof(ernie_ncclResult) == 4, "ncclResult_t is int-sized");
_Static_assert(sizeof(ernie_CUDA_MEMCPY2D) == 128, "CUDA_MEMCPY2D is 128 bytes");
_Static_assert(offsetof(ernie_CUDA_MEMCPY2D, srcHost) == 24, "CUDA_MEMCPY2D.srcHost offset");
_Static_assert(offsetof(ernie_CUDA_MEMCPY2D, dstDevice) == 88, "CUDA_MEMCPY2D.dstDevice offset");
_Static_assert(offsetof(ernie_CUDA_MEMCPY2D, Height) == 120, "CUDA_MEMCPY2D.Height offset");

ernie_ncclResult ernie_nccl_comm_init_rank(ernie_ncclCommInitRank_fn function, ernie_ncclComm *comm, int nranks,
                                           const ernie_ncclUniqueId *id, int rank) {
    return function(comm, nranks, *id, rank);
}

size_t ernie_memcpy2d_size(void) { return sizeof(ernie_CUDA_MEMCPY2D); }

size_t ernie_memcpy2d_offset_of_dst_device(void) { return offsetof(ernie_CUDA_MEMCPY2D, dstDevice); }

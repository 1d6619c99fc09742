#ifndef CERNIECUDA_H
#define CERNIECUDA_H

// Hand-written declarations of the parts of the CUDA driver API, NVRTC and cuBLASLt that ErnieCUDA calls through
// function pointers resolved with dlsym. No CUDA header is needed to build this package.
//
// Every constant and function-pointer type here is checked against the real headers by
// scripts/gpu/check_abi.sh (compiles scripts/gpu/check_abi.c with -DERNIE_CHECK_WITH_CUDA_HEADERS, which makes the
// handle typedefs below alias the real CUDA types, so a wrong signature is a compile error; the cuBLASLt part only
// when cublasLt.h is available, -DERNIE_CHECK_CUBLASLT).

#include <stddef.h>
#include <stdint.h>

#ifdef ERNIE_CHECK_WITH_CUDA_HEADERS
#include <cuda.h>
#include <nvrtc.h>
typedef CUresult ernie_CUresult;
typedef CUdevice ernie_CUdevice;
typedef CUdeviceptr ernie_CUdeviceptr;
typedef CUcontext ernie_CUcontext;
typedef CUstream ernie_CUstream;
typedef CUevent ernie_CUevent;
typedef CUmodule ernie_CUmodule;
typedef CUfunction ernie_CUfunction;
typedef CUgraph ernie_CUgraph;
typedef CUgraphExec ernie_CUgraphExec;
typedef CUdevice_attribute ernie_CUdevice_attribute;
typedef CUfunction_attribute ernie_CUfunction_attribute;
typedef CUstreamCaptureMode ernie_CUstreamCaptureMode;
typedef nvrtcResult ernie_nvrtcResult;
typedef nvrtcProgram ernie_nvrtcProgram;
#else
/// `CUresult` (an enum in cuda.h, int-sized).
typedef int ernie_CUresult;
typedef int ernie_CUdevice;
typedef unsigned long long ernie_CUdeviceptr;
typedef struct ernie_CUctx_st *ernie_CUcontext;
typedef struct ernie_CUstream_st *ernie_CUstream;
typedef struct ernie_CUevent_st *ernie_CUevent;
typedef struct ernie_CUmod_st *ernie_CUmodule;
typedef struct ernie_CUfunc_st *ernie_CUfunction;
typedef struct ernie_CUgraph_st *ernie_CUgraph;
typedef struct ernie_CUgraphExec_st *ernie_CUgraphExec;
typedef int ernie_CUdevice_attribute;
typedef int ernie_CUfunction_attribute;
typedef int ernie_CUstreamCaptureMode;
typedef int ernie_nvrtcResult;
typedef struct ernie_nvrtcProgram_st *ernie_nvrtcProgram;
#endif

#if defined(ERNIE_CHECK_WITH_CUDA_HEADERS) && defined(ERNIE_CHECK_CUBLASLT)
#include <cublasLt.h>
typedef cublasStatus_t ernie_cublasStatus;
typedef cublasLtHandle_t ernie_cublasLtHandle;
typedef cublasLtMatmulDesc_t ernie_cublasLtMatmulDesc;
typedef cublasLtMatrixLayout_t ernie_cublasLtMatrixLayout;
typedef cublasLtMatmulPreference_t ernie_cublasLtMatmulPreference;
typedef cublasComputeType_t ernie_cublasComputeType;
typedef cudaDataType ernie_cudaDataType;
typedef cublasLtMatmulDescAttributes_t ernie_cublasLtMatmulDescAttribute;
typedef cublasLtMatmulPreferenceAttributes_t ernie_cublasLtMatmulPreferenceAttribute;
typedef cublasLtMatrixLayoutAttribute_t ernie_cublasLtMatrixLayoutAttribute;
typedef cublasLtMatmulAlgo_t ernie_cublasLtMatmulAlgo;
typedef cublasLtMatmulHeuristicResult_t ernie_cublasLtMatmulHeuristicResult;
#else
typedef int ernie_cublasStatus;
typedef struct ernie_cublasLtContext *ernie_cublasLtHandle;
typedef struct ernie_cublasLtMatmulDescOpaque *ernie_cublasLtMatmulDesc;
typedef struct ernie_cublasLtMatrixLayoutOpaque *ernie_cublasLtMatrixLayout;
typedef struct ernie_cublasLtMatmulPreferenceOpaque *ernie_cublasLtMatmulPreference;
typedef int ernie_cublasComputeType;
typedef int ernie_cudaDataType;
typedef int ernie_cublasLtMatmulDescAttribute;
typedef int ernie_cublasLtMatmulPreferenceAttribute;
typedef int ernie_cublasLtMatrixLayoutAttribute;

/// `cublasLtMatmulAlgo_t`: 64 opaque bytes.
typedef struct {
    uint64_t data[8];
} ernie_cublasLtMatmulAlgo;

/// `cublasLtMatmulHeuristicResult_t`.
typedef struct {
    ernie_cublasLtMatmulAlgo algo;
    size_t workspaceSize;
    ernie_cublasStatus state;
    float wavesCount;
    int reserved[4];
} ernie_cublasLtMatmulHeuristicResult;
#endif

// MARK: - Constants (values from CUDA 13.0 headers; checked by scripts/gpu/check_abi.c)

enum {
    ERNIE_CUDA_SUCCESS = 0,
    ERNIE_CUDA_ERROR_OUT_OF_MEMORY = 2,
    ERNIE_CUDA_ERROR_NOT_INITIALIZED = 3,
    ERNIE_CUDA_ERROR_NO_DEVICE = 100,
    ERNIE_CUDA_ERROR_INVALID_DEVICE = 101,

    ERNIE_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    ERNIE_CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
    ERNIE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    ERNIE_CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
    ERNIE_CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
    ERNIE_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
    ERNIE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    ERNIE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    ERNIE_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,

    ERNIE_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
    ERNIE_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
    ERNIE_CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3,
    ERNIE_CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
    ERNIE_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,

    ERNIE_CU_STREAM_NON_BLOCKING = 1,
    ERNIE_CU_EVENT_DEFAULT = 0,
    ERNIE_CU_EVENT_DISABLE_TIMING = 2,
    ERNIE_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
    ERNIE_CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6,

    ERNIE_NVRTC_SUCCESS = 0,

    ERNIE_CUBLAS_STATUS_SUCCESS = 0,
    ERNIE_CUBLAS_OP_N = 0,
    ERNIE_CUBLAS_OP_T = 1,
    ERNIE_CUBLAS_COMPUTE_32F = 68,
    ERNIE_CUDA_R_32F = 0,
    ERNIE_CUDA_R_16BF = 14,
    ERNIE_CUBLASLT_MATMUL_DESC_TRANSA = 3,
    ERNIE_CUBLASLT_MATMUL_DESC_TRANSB = 4,
    ERNIE_CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    ERNIE_CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    ERNIE_CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
    ERNIE_CUBLASLT_EPILOGUE_DEFAULT = 1,
    ERNIE_CUBLASLT_EPILOGUE_BIAS = 4,
    ERNIE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
    ERNIE_CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,
    ERNIE_CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6,
};

// MARK: - CUDA driver API (symbol names are the exact exported ones: `_v2` where cuda.h renames)

typedef ernie_CUresult (*ernie_cuInit_fn)(unsigned int flags);
typedef ernie_CUresult (*ernie_cuDriverGetVersion_fn)(int *version);
typedef ernie_CUresult (*ernie_cuGetErrorName_fn)(ernie_CUresult error, const char **name);
typedef ernie_CUresult (*ernie_cuGetErrorString_fn)(ernie_CUresult error, const char **message);
typedef ernie_CUresult (*ernie_cuDeviceGetCount_fn)(int *count);
typedef ernie_CUresult (*ernie_cuDeviceGet_fn)(ernie_CUdevice *device, int ordinal);
typedef ernie_CUresult (*ernie_cuDeviceGetName_fn)(char *name, int length, ernie_CUdevice device);
typedef ernie_CUresult (*ernie_cuDeviceGetAttribute_fn)(int *value, ernie_CUdevice_attribute attribute,
                                                        ernie_CUdevice device);
/// `cuDeviceTotalMem_v2`.
typedef ernie_CUresult (*ernie_cuDeviceTotalMem_fn)(size_t *bytes, ernie_CUdevice device);
typedef ernie_CUresult (*ernie_cuDevicePrimaryCtxRetain_fn)(ernie_CUcontext *context, ernie_CUdevice device);
/// `cuDevicePrimaryCtxRelease_v2`.
typedef ernie_CUresult (*ernie_cuDevicePrimaryCtxRelease_fn)(ernie_CUdevice device);
typedef ernie_CUresult (*ernie_cuCtxSetCurrent_fn)(ernie_CUcontext context);
typedef ernie_CUresult (*ernie_cuCtxSynchronize_fn)(void);
/// `cuMemGetInfo_v2`.
typedef ernie_CUresult (*ernie_cuMemGetInfo_fn)(size_t *free, size_t *total);
/// `cuMemAlloc_v2`.
typedef ernie_CUresult (*ernie_cuMemAlloc_fn)(ernie_CUdeviceptr *pointer, size_t bytes);
/// `cuMemFree_v2`.
typedef ernie_CUresult (*ernie_cuMemFree_fn)(ernie_CUdeviceptr pointer);
/// `cuMemAllocHost_v2`.
typedef ernie_CUresult (*ernie_cuMemAllocHost_fn)(void **pointer, size_t bytes);
typedef ernie_CUresult (*ernie_cuMemFreeHost_fn)(void *pointer);
/// `cuMemcpyHtoDAsync_v2`.
typedef ernie_CUresult (*ernie_cuMemcpyHtoDAsync_fn)(ernie_CUdeviceptr destination, const void *source, size_t bytes,
                                                     ernie_CUstream stream);
/// `cuMemcpyDtoHAsync_v2`.
typedef ernie_CUresult (*ernie_cuMemcpyDtoHAsync_fn)(void *destination, ernie_CUdeviceptr source, size_t bytes,
                                                     ernie_CUstream stream);
/// `cuMemcpyDtoDAsync_v2`.
typedef ernie_CUresult (*ernie_cuMemcpyDtoDAsync_fn)(ernie_CUdeviceptr destination, ernie_CUdeviceptr source,
                                                     size_t bytes, ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuMemsetD8Async_fn)(ernie_CUdeviceptr destination, unsigned char value, size_t count,
                                                   ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuMemsetD32Async_fn)(ernie_CUdeviceptr destination, unsigned int value, size_t count,
                                                    ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuStreamCreate_fn)(ernie_CUstream *stream, unsigned int flags);
/// `cuStreamDestroy_v2`.
typedef ernie_CUresult (*ernie_cuStreamDestroy_fn)(ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuStreamSynchronize_fn)(ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuEventCreate_fn)(ernie_CUevent *event, unsigned int flags);
/// `cuEventDestroy_v2`.
typedef ernie_CUresult (*ernie_cuEventDestroy_fn)(ernie_CUevent event);
typedef ernie_CUresult (*ernie_cuEventRecord_fn)(ernie_CUevent event, ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuEventSynchronize_fn)(ernie_CUevent event);
typedef ernie_CUresult (*ernie_cuStreamWaitEvent_fn)(ernie_CUstream stream, ernie_CUevent event, unsigned int flags);
/// `cuEventElapsedTime_v2`.
typedef ernie_CUresult (*ernie_cuEventElapsedTime_fn)(float *milliseconds, ernie_CUevent start, ernie_CUevent end);
typedef ernie_CUresult (*ernie_cuModuleLoadData_fn)(ernie_CUmodule *module, const void *image);
typedef ernie_CUresult (*ernie_cuModuleUnload_fn)(ernie_CUmodule module);
typedef ernie_CUresult (*ernie_cuModuleGetFunction_fn)(ernie_CUfunction *function, ernie_CUmodule module,
                                                       const char *name);
typedef ernie_CUresult (*ernie_cuFuncSetAttribute_fn)(ernie_CUfunction function, ernie_CUfunction_attribute attribute,
                                                      int value);
typedef ernie_CUresult (*ernie_cuFuncGetAttribute_fn)(int *value, ernie_CUfunction_attribute attribute,
                                                      ernie_CUfunction function);
typedef ernie_CUresult (*ernie_cuLaunchKernel_fn)(ernie_CUfunction function, unsigned int gridX, unsigned int gridY,
                                                  unsigned int gridZ, unsigned int blockX, unsigned int blockY,
                                                  unsigned int blockZ, unsigned int sharedMemBytes,
                                                  ernie_CUstream stream, void **kernelParams, void **extra);
/// `cuStreamBeginCapture_v2`.
typedef ernie_CUresult (*ernie_cuStreamBeginCapture_fn)(ernie_CUstream stream, ernie_CUstreamCaptureMode mode);
typedef ernie_CUresult (*ernie_cuStreamEndCapture_fn)(ernie_CUstream stream, ernie_CUgraph *graph);
typedef ernie_CUresult (*ernie_cuGraphInstantiateWithFlags_fn)(ernie_CUgraphExec *exec, ernie_CUgraph graph,
                                                               unsigned long long flags);
typedef ernie_CUresult (*ernie_cuGraphLaunch_fn)(ernie_CUgraphExec exec, ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuGraphDestroy_fn)(ernie_CUgraph graph);
/// `cuGraphUpload`.
typedef ernie_CUresult (*ernie_cuGraphUpload_fn)(ernie_CUgraphExec exec, ernie_CUstream stream);
typedef ernie_CUresult (*ernie_cuGraphExecDestroy_fn)(ernie_CUgraphExec exec);

#ifdef ERNIE_CHECK_WITH_CUDA_HEADERS
typedef CUlaunchAttribute ernie_CUlaunchAttribute;
typedef CUlaunchConfig ernie_CUlaunchConfig;
#else
/// `CUlaunchAttribute` (72 bytes): the attribute id, padding, and a 64-byte value union whose first 4 bytes hold the
/// integer attributes used here.
typedef struct {
    int id;
    char pad[4];
    union {
        int programmaticStreamSerializationAllowed;
        unsigned char bytes[64];
    } value;
} ernie_CUlaunchAttribute;

/// `CUlaunchConfig` (56 bytes).
typedef struct {
    unsigned int gridDimX, gridDimY, gridDimZ;
    unsigned int blockDimX, blockDimY, blockDimZ;
    unsigned int sharedMemBytes;
    ernie_CUstream hStream;
    ernie_CUlaunchAttribute *attrs;
    unsigned int numAttrs;
} ernie_CUlaunchConfig;
#endif

/// `cuLaunchKernelEx`.
typedef ernie_CUresult (*ernie_cuLaunchKernelEx_fn)(const ernie_CUlaunchConfig *config, ernie_CUfunction function,
                                                    void **kernelParams, void **extra);

// MARK: - NVRTC

typedef const char *(*ernie_nvrtcGetErrorString_fn)(ernie_nvrtcResult result);
typedef ernie_nvrtcResult (*ernie_nvrtcVersion_fn)(int *major, int *minor);
typedef ernie_nvrtcResult (*ernie_nvrtcCreateProgram_fn)(ernie_nvrtcProgram *program, const char *source,
                                                         const char *name, int numHeaders,
                                                         const char *const *headers,
                                                         const char *const *includeNames);
typedef ernie_nvrtcResult (*ernie_nvrtcDestroyProgram_fn)(ernie_nvrtcProgram *program);
typedef ernie_nvrtcResult (*ernie_nvrtcCompileProgram_fn)(ernie_nvrtcProgram program, int numOptions,
                                                          const char *const *options);
typedef ernie_nvrtcResult (*ernie_nvrtcGetProgramLogSize_fn)(ernie_nvrtcProgram program, size_t *size);
typedef ernie_nvrtcResult (*ernie_nvrtcGetProgramLog_fn)(ernie_nvrtcProgram program, char *log);
typedef ernie_nvrtcResult (*ernie_nvrtcGetCUBINSize_fn)(ernie_nvrtcProgram program, size_t *size);
typedef ernie_nvrtcResult (*ernie_nvrtcGetCUBIN_fn)(ernie_nvrtcProgram program, char *cubin);

// MARK: - cuBLASLt

typedef size_t (*ernie_cublasLtGetVersion_fn)(void);
typedef const char *(*ernie_cublasLtGetStatusString_fn)(ernie_cublasStatus status);
typedef const char *(*ernie_cublasLtGetStatusName_fn)(ernie_cublasStatus status);
typedef ernie_cublasStatus (*ernie_cublasLtCreate_fn)(ernie_cublasLtHandle *handle);
typedef ernie_cublasStatus (*ernie_cublasLtDestroy_fn)(ernie_cublasLtHandle handle);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulDescCreate_fn)(ernie_cublasLtMatmulDesc *desc,
                                                                 ernie_cublasComputeType computeType,
                                                                 ernie_cudaDataType scaleType);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulDescDestroy_fn)(ernie_cublasLtMatmulDesc desc);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulDescSetAttribute_fn)(ernie_cublasLtMatmulDesc desc,
                                                                       ernie_cublasLtMatmulDescAttribute attribute,
                                                                       const void *value, size_t size);
typedef ernie_cublasStatus (*ernie_cublasLtMatrixLayoutCreate_fn)(ernie_cublasLtMatrixLayout *layout,
                                                                   ernie_cudaDataType type, uint64_t rows,
                                                                   uint64_t cols, int64_t ld);
typedef ernie_cublasStatus (*ernie_cublasLtMatrixLayoutDestroy_fn)(ernie_cublasLtMatrixLayout layout);
typedef ernie_cublasStatus (*ernie_cublasLtMatrixLayoutSetAttribute_fn)(ernie_cublasLtMatrixLayout layout,
                                                                         ernie_cublasLtMatrixLayoutAttribute attribute,
                                                                         const void *value, size_t size);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulPreferenceCreate_fn)(ernie_cublasLtMatmulPreference *preference);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulPreferenceDestroy_fn)(ernie_cublasLtMatmulPreference preference);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulPreferenceSetAttribute_fn)(
    ernie_cublasLtMatmulPreference preference, ernie_cublasLtMatmulPreferenceAttribute attribute, const void *value,
    size_t size);
typedef ernie_cublasStatus (*ernie_cublasLtMatmulAlgoGetHeuristic_fn)(
    ernie_cublasLtHandle handle, ernie_cublasLtMatmulDesc desc, ernie_cublasLtMatrixLayout a,
    ernie_cublasLtMatrixLayout b, ernie_cublasLtMatrixLayout c, ernie_cublasLtMatrixLayout d,
    ernie_cublasLtMatmulPreference preference, int requested, ernie_cublasLtMatmulHeuristicResult *results,
    int *returned);
typedef ernie_cublasStatus (*ernie_cublasLtMatmul_fn)(
    ernie_cublasLtHandle handle, ernie_cublasLtMatmulDesc desc, const void *alpha, const void *a,
    ernie_cublasLtMatrixLayout aLayout, const void *b, ernie_cublasLtMatrixLayout bLayout, const void *beta,
    const void *c, ernie_cublasLtMatrixLayout cLayout, void *d, ernie_cublasLtMatrixLayout dLayout,
    const ernie_cublasLtMatmulAlgo *algo, void *workspace, size_t workspaceBytes, ernie_CUstream stream);

// MARK: - Helpers

/// Size of `cublasLtMatmulHeuristicResult_t` (96 bytes on x86-64 / aarch64).
size_t ernie_cublasLtHeuristicResultSize(void);

/// The path of the shared object containing `address` (`dladdr`), or NULL.
const char *ernie_dl_path_of(const void *address);

// NCCL (tensor parallelism) and the driver call its communicator uses.
#include "CErnieNCCL.h"

#endif

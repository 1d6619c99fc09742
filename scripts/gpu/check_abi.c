// Checks Sources/CErnieCUDA/include/CErnieCUDA.h against the real CUDA 13 headers: every function-pointer type must
// accept the real function (same signature), every constant must equal the real enum value.
// Run by scripts/gpu/check_abi.sh (needs a C compiler and cuda.h / nvrtc.h / cublasLt.h).
#define ERNIE_CHECK_WITH_CUDA_HEADERS 1
#include "CErnieCUDA.h"

#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " != " #b)
SAME(ERNIE_CUDA_SUCCESS, CUDA_SUCCESS);
SAME(ERNIE_CUDA_ERROR_OUT_OF_MEMORY, CUDA_ERROR_OUT_OF_MEMORY);
SAME(ERNIE_CUDA_ERROR_NOT_INITIALIZED, CUDA_ERROR_NOT_INITIALIZED);
SAME(ERNIE_CUDA_ERROR_NO_DEVICE, CUDA_ERROR_NO_DEVICE);
SAME(ERNIE_CUDA_ERROR_INVALID_DEVICE, CUDA_ERROR_INVALID_DEVICE);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_CLOCK_RATE, CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
SAME(ERNIE_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
     CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
SAME(ERNIE_CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
SAME(ERNIE_CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES);
SAME(ERNIE_CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
SAME(ERNIE_CU_FUNC_ATTRIBUTE_NUM_REGS, CU_FUNC_ATTRIBUTE_NUM_REGS);
SAME(ERNIE_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
SAME(ERNIE_CU_STREAM_NON_BLOCKING, CU_STREAM_NON_BLOCKING);
SAME(ERNIE_CU_EVENT_DEFAULT, CU_EVENT_DEFAULT);
SAME(ERNIE_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
SAME(ERNIE_CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
     CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
SAME(ERNIE_NVRTC_SUCCESS, NVRTC_SUCCESS);
_Static_assert(sizeof(CUdeviceptr) == 8, "CUdeviceptr");
_Static_assert(sizeof(CUresult) == 4 && sizeof(nvrtcResult) == 4, "status enums");
#ifdef ERNIE_CHECK_CUBLASLT
SAME(ERNIE_CUBLAS_STATUS_SUCCESS, CUBLAS_STATUS_SUCCESS);
SAME(ERNIE_CUBLAS_OP_N, CUBLAS_OP_N);
SAME(ERNIE_CUBLAS_OP_T, CUBLAS_OP_T);
SAME(ERNIE_CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F);
SAME(ERNIE_CUDA_R_32F, CUDA_R_32F);
SAME(ERNIE_CUDA_R_16BF, CUDA_R_16BF);
SAME(ERNIE_CUBLASLT_MATMUL_DESC_TRANSA, CUBLASLT_MATMUL_DESC_TRANSA);
SAME(ERNIE_CUBLASLT_MATMUL_DESC_TRANSB, CUBLASLT_MATMUL_DESC_TRANSB);
SAME(ERNIE_CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_MATMUL_DESC_EPILOGUE);
SAME(ERNIE_CUBLASLT_MATMUL_DESC_BIAS_POINTER, CUBLASLT_MATMUL_DESC_BIAS_POINTER);
SAME(ERNIE_CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE);
SAME(ERNIE_CUBLASLT_EPILOGUE_DEFAULT, CUBLASLT_EPILOGUE_DEFAULT);
SAME(ERNIE_CUBLASLT_EPILOGUE_BIAS, CUBLASLT_EPILOGUE_BIAS);
SAME(ERNIE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES);
SAME(ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES);
SAME(ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES);
SAME(ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES);
SAME(ERNIE_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES);
SAME(ERNIE_CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT);
SAME(ERNIE_CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET);
_Static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96, "heuristic result size");
_Static_assert(sizeof(cublasLtMatmulAlgo_t) == 64, "algo size");
_Static_assert(sizeof(cublasStatus_t) == 4, "cublasStatus_t");
#endif

// Each entry: the exact symbol ErnieCUDA passes to dlsym, assigned to its function-pointer type.
#define FN(type, symbol) type check_##symbol = &symbol
FN(ernie_cuInit_fn, cuInit);
FN(ernie_cuDriverGetVersion_fn, cuDriverGetVersion);
FN(ernie_cuGetErrorName_fn, cuGetErrorName);
FN(ernie_cuGetErrorString_fn, cuGetErrorString);
FN(ernie_cuDeviceGetCount_fn, cuDeviceGetCount);
FN(ernie_cuDeviceGet_fn, cuDeviceGet);
FN(ernie_cuDeviceGetName_fn, cuDeviceGetName);
FN(ernie_cuDeviceGetAttribute_fn, cuDeviceGetAttribute);
FN(ernie_cuDeviceTotalMem_fn, cuDeviceTotalMem_v2);
FN(ernie_cuDevicePrimaryCtxRetain_fn, cuDevicePrimaryCtxRetain);
FN(ernie_cuDevicePrimaryCtxRelease_fn, cuDevicePrimaryCtxRelease_v2);
FN(ernie_cuCtxSetCurrent_fn, cuCtxSetCurrent);
FN(ernie_cuCtxSynchronize_fn, cuCtxSynchronize);
FN(ernie_cuMemGetInfo_fn, cuMemGetInfo_v2);
FN(ernie_cuMemAlloc_fn, cuMemAlloc_v2);
FN(ernie_cuMemFree_fn, cuMemFree_v2);
FN(ernie_cuMemAllocHost_fn, cuMemAllocHost_v2);
FN(ernie_cuMemFreeHost_fn, cuMemFreeHost);
FN(ernie_cuMemcpyHtoDAsync_fn, cuMemcpyHtoDAsync_v2);
FN(ernie_cuMemcpyDtoHAsync_fn, cuMemcpyDtoHAsync_v2);
FN(ernie_cuMemcpyDtoDAsync_fn, cuMemcpyDtoDAsync_v2);
FN(ernie_cuMemsetD8Async_fn, cuMemsetD8Async);
FN(ernie_cuMemsetD32Async_fn, cuMemsetD32Async);
FN(ernie_cuStreamCreate_fn, cuStreamCreate);
FN(ernie_cuStreamDestroy_fn, cuStreamDestroy_v2);
FN(ernie_cuStreamSynchronize_fn, cuStreamSynchronize);
FN(ernie_cuEventCreate_fn, cuEventCreate);
FN(ernie_cuEventDestroy_fn, cuEventDestroy_v2);
FN(ernie_cuEventRecord_fn, cuEventRecord);
FN(ernie_cuEventSynchronize_fn, cuEventSynchronize);
FN(ernie_cuEventElapsedTime_fn, cuEventElapsedTime_v2);
FN(ernie_cuModuleLoadData_fn, cuModuleLoadData);
FN(ernie_cuModuleUnload_fn, cuModuleUnload);
FN(ernie_cuModuleGetFunction_fn, cuModuleGetFunction);
FN(ernie_cuFuncSetAttribute_fn, cuFuncSetAttribute);
FN(ernie_cuFuncGetAttribute_fn, cuFuncGetAttribute);
FN(ernie_cuLaunchKernel_fn, cuLaunchKernel);
FN(ernie_cuStreamBeginCapture_fn, cuStreamBeginCapture_v2);
FN(ernie_cuStreamEndCapture_fn, cuStreamEndCapture);
FN(ernie_cuGraphInstantiateWithFlags_fn, cuGraphInstantiateWithFlags);
FN(ernie_cuGraphLaunch_fn, cuGraphLaunch);
FN(ernie_cuGraphDestroy_fn, cuGraphDestroy);
FN(ernie_cuGraphExecDestroy_fn, cuGraphExecDestroy);
FN(ernie_cuGraphUpload_fn, cuGraphUpload);
FN(ernie_cuLaunchKernelEx_fn, cuLaunchKernelEx);

FN(ernie_nvrtcGetErrorString_fn, nvrtcGetErrorString);
FN(ernie_nvrtcVersion_fn, nvrtcVersion);
FN(ernie_nvrtcCreateProgram_fn, nvrtcCreateProgram);
FN(ernie_nvrtcDestroyProgram_fn, nvrtcDestroyProgram);
FN(ernie_nvrtcCompileProgram_fn, nvrtcCompileProgram);
FN(ernie_nvrtcGetProgramLogSize_fn, nvrtcGetProgramLogSize);
FN(ernie_nvrtcGetProgramLog_fn, nvrtcGetProgramLog);
FN(ernie_nvrtcGetCUBINSize_fn, nvrtcGetCUBINSize);
FN(ernie_nvrtcGetCUBIN_fn, nvrtcGetCUBIN);

#ifdef ERNIE_CHECK_CUBLASLT
FN(ernie_cublasLtGetVersion_fn, cublasLtGetVersion);
FN(ernie_cublasLtGetStatusString_fn, cublasLtGetStatusString);
FN(ernie_cublasLtGetStatusName_fn, cublasLtGetStatusName);
FN(ernie_cublasLtCreate_fn, cublasLtCreate);
FN(ernie_cublasLtDestroy_fn, cublasLtDestroy);
FN(ernie_cublasLtMatmulDescCreate_fn, cublasLtMatmulDescCreate);
FN(ernie_cublasLtMatmulDescDestroy_fn, cublasLtMatmulDescDestroy);
FN(ernie_cublasLtMatmulDescSetAttribute_fn, cublasLtMatmulDescSetAttribute);
FN(ernie_cublasLtMatrixLayoutCreate_fn, cublasLtMatrixLayoutCreate);
FN(ernie_cublasLtMatrixLayoutDestroy_fn, cublasLtMatrixLayoutDestroy);
FN(ernie_cublasLtMatrixLayoutSetAttribute_fn, cublasLtMatrixLayoutSetAttribute);
FN(ernie_cublasLtMatmulPreferenceCreate_fn, cublasLtMatmulPreferenceCreate);
FN(ernie_cublasLtMatmulPreferenceDestroy_fn, cublasLtMatmulPreferenceDestroy);
FN(ernie_cublasLtMatmulPreferenceSetAttribute_fn, cublasLtMatmulPreferenceSetAttribute);
FN(ernie_cublasLtMatmulAlgoGetHeuristic_fn, cublasLtMatmulAlgoGetHeuristic);
FN(ernie_cublasLtMatmul_fn, cublasLtMatmul);
#endif

// The layouts ErnieCUDA's own declarations of these structs must have (used when the real headers are absent).
#include <stddef.h>
_Static_assert(sizeof(CUlaunchAttribute) == 72, "CUlaunchAttribute size");
_Static_assert(offsetof(CUlaunchAttribute, value) == 8, "CUlaunchAttribute.value offset");
_Static_assert(sizeof(CUlaunchConfig) == 56, "CUlaunchConfig size");
_Static_assert(offsetof(CUlaunchConfig, sharedMemBytes) == 24, "CUlaunchConfig.sharedMemBytes");
_Static_assert(offsetof(CUlaunchConfig, hStream) == 32, "CUlaunchConfig.hStream");
_Static_assert(offsetof(CUlaunchConfig, attrs) == 40, "CUlaunchConfig.attrs");
_Static_assert(offsetof(CUlaunchConfig, numAttrs) == 48, "CUlaunchConfig.numAttrs");

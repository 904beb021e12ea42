# The CUDA kernels (kernels/cuda, docs/cuda.md) against the CPU ops. test_cuda_emu runs them in
# the SIMT emulation (always built); test_cuda_gpu is the same file on the device (CUDA builds,
# label gpu, skipped with code 77 where there is no device), which also checks that the nvcc
# library links.
restpg_test(test_cuda_emu SOURCES tests/test_cuda_emu.c LIBS restpg_kernels_cuda_emu restpg_kernels_cpu)
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/simt_emu/simt_probe.cpp
  CONTENT "#include \"${CMAKE_SOURCE_DIR}/tests/simt_probe.cu\"\n")
target_sources(test_cuda_emu PRIVATE ${CMAKE_BINARY_DIR}/simt_emu/simt_probe.cpp)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_gpu SOURCES tests/test_cuda_emu.c LIBS restpg_kernels_cuda restpg_kernels_cpu LABELS gpu)
  set_tests_properties(test_cuda_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# The flash attention (kernels/cuda/attention.cu) against both CPU attention ops, the same way:
# test_cuda_attention_emu in the emulation, test_cuda_attention_gpu on a device.
restpg_test(test_cuda_attention_emu SOURCES tests/test_cuda_attention.c
  LIBS restpg_kernels_cuda_emu restpg_kernels_cpu)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_attention_gpu SOURCES tests/test_cuda_attention.c
    LIBS restpg_kernels_cuda restpg_kernels_cpu LABELS gpu)
  set_tests_properties(test_cuda_attention_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# The second slice of kernels (crossentropy backward, LayerNorm, GELU, embeddings, RoPE, add,
# sumsq) against the CPU ops, built the same two ways.
restpg_test(test_cuda_ops_emu SOURCES tests/test_cuda_ops.c LIBS restpg_kernels_cuda_emu restpg_kernels_cpu)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_ops_gpu SOURCES tests/test_cuda_ops.c LIBS restpg_kernels_cuda restpg_kernels_cpu LABELS gpu)
  set_tests_properties(test_cuda_ops_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# The CUDA backend's table against the CPU backend on whole training steps of every architecture,
# and checkpoints moving between them: over the emulation, and on a device (label gpu).
restpg_test(test_backend_cuda_emu SOURCES tests/test_backend_cuda.c LIBS restpg_model restpg_kernels_cuda_emu)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_backend_cuda_gpu SOURCES tests/test_backend_cuda.c LIBS restpg_model restpg_kernels_cuda LABELS gpu)
  set_tests_properties(test_backend_cuda_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# The CUDA backend from the command line over the emulation (restpg_emu): training, checkpoints
# across backends, resume on the other backend, the refusal without a GPU.
restpg_script_test(test_cuda_cli SCRIPT cuda_cli.sh LABELS slow TIMEOUT 1200)

# The KV-cached decoder (kernels/cuda/decoder*.cu) against the CPU decoder on tiny random models
# of every architecture; its kernels against host references (docs/cuda.md, "The decoder").
restpg_test(test_cuda_decoder_emu SOURCES tests/test_cuda_decoder.c
  LIBS restpg_kernels_cuda_emu restpg_model restpg_kernels_cpu)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_decoder_gpu SOURCES tests/test_cuda_decoder.c
    LIBS restpg_kernels_cuda restpg_model restpg_kernels_cpu LABELS gpu)
  set_tests_properties(test_cuda_decoder_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# The device choice before MPI_Init (the CLI's order), on 1-3 ranks of one node, emulated.
add_executable(test_cuda_device ${CMAKE_SOURCE_DIR}/tests/test_cuda_device.c)
target_link_libraries(test_cuda_device PRIVATE restpg_kernels restpg_kernels_cuda_emu restpg_kernels_cpu)
target_include_directories(test_cuda_device PRIVATE ${CMAKE_SOURCE_DIR})
foreach(np 1 3)
  restpg_mpi_test(test_cuda_device_${np}ranks NP ${np} COMMAND $<TARGET_FILE:test_cuda_device> TIMEOUT 120)
endforeach()

# The tensor-core flash attention (kernels/cuda/attention_tc.cu) against the CPU attention ops on
# bf16-rounded inputs, and the warp matrix API it uses (tests/wmma_probe.cu): in the emulation
# (test_cuda_attention_tc_emu) and on a device (test_cuda_attention_tc_gpu, label gpu).
restpg_test(test_cuda_attention_tc_emu SOURCES tests/test_cuda_attention_tc.c
  LIBS restpg_kernels_cuda_emu restpg_kernels_cpu)
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/simt_emu/wmma_probe.cpp
  CONTENT "#include \"${CMAKE_SOURCE_DIR}/tests/wmma_probe.cu\"\n")
target_sources(test_cuda_attention_tc_emu PRIVATE ${CMAKE_BINARY_DIR}/simt_emu/wmma_probe.cpp)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_attention_tc_gpu SOURCES tests/test_cuda_attention_tc.c tests/wmma_probe.cu
    LIBS restpg_kernels_cuda restpg_kernels_cpu LABELS gpu)
  set_tests_properties(test_cuda_attention_tc_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# Sampling on the device (kernels/cuda/sample.cu) against sampler/sampling.c's sampling_choose:
# the same tokens for random, tied, -inf, flat and refused rows under every filter, u at the CDF
# boundaries; in the emulation under the three thread orders, and on a device (label gpu).
# Label slow: two minutes here, eleven under ASan/UBSan (clean when last run there, 2026-12-03),
# which would add that to CI's sanitizer step; it still runs in the main suite.
restpg_test(test_cuda_sample_emu SOURCES tests/test_cuda_sample.c LIBS restpg_kernels_cuda_emu restpg_sampler
  LABELS slow TIMEOUT 1200)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_sample_gpu SOURCES tests/test_cuda_sample.c LIBS restpg_kernels_cuda restpg_sampler LABELS gpu)
  set_tests_properties(test_cuda_sample_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

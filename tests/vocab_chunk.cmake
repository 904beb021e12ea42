# The LM head's loss chunked over the vocabulary (train.vocab_chunk: model/vocab_chunk.c, the
# crossentropy_chunk_* ops). test_vocab_chunk: the CPU's chunked step against its whole-vocabulary
# step for GPT-2, Gemma 3, Llama and Qwen3, the plan's bytes, the setting's parsing.
restpg_test(test_vocab_chunk SOURCES tests/test_vocab_chunk.c LIBS restpg_model)
# The CUDA kernels against the CPU ops (emulated under three thread orders; on a device, label gpu).
restpg_test(test_cuda_cechunk_emu SOURCES tests/test_cuda_cechunk.c LIBS restpg_kernels_cuda_emu restpg_kernels_cpu)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_cuda_cechunk_gpu SOURCES tests/test_cuda_cechunk.c LIBS restpg_kernels_cuda restpg_kernels_cpu
    LABELS gpu)
  set_tests_properties(test_cuda_cechunk_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()
# A chunked training step on the CUDA backend against the CPU's whole-vocabulary step.
restpg_test(test_backend_cuda_chunk_emu SOURCES tests/test_backend_cuda_chunk.c
  LIBS restpg_model restpg_kernels_cuda_emu)
if(RESTPG_HAVE_CUDA)
  restpg_test(test_backend_cuda_chunk_gpu SOURCES tests/test_backend_cuda_chunk.c
    LIBS restpg_model restpg_kernels_cuda LABELS gpu)
  set_tests_properties(test_backend_cuda_chunk_gpu PROPERTIES SKIP_RETURN_CODE 77)
endif()

# Kernels (kernels/cpu) and the GPT-2 model (model/): references, gradient checks, determinism.
restpg_test(test_kernels SOURCES tests/test_kernels.c LIBS restpg_kernels)
restpg_test(test_gpt SOURCES tests/test_gpt.c LIBS restpg_model)
restpg_test(test_rng SOURCES tests/test_rng.c LIBS restpg_core)

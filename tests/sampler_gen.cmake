# The E-step sampler (model/infer, kernels/cpu/decode, sampler/sampler): KV-cache correctness,
# determinism across batch sizes, threads and ranks, resume after kill -9, CLI errors.
restpg_test(test_infer SOURCES tests/test_infer.c LIBS restpg_model)

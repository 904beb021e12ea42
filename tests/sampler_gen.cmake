# The E-step sampler (model/infer, kernels/cpu/decode, sampler/sampler): KV-cache correctness,
# determinism across batch sizes, threads and ranks, resume after kill -9, CLI errors.
restpg_test(test_infer SOURCES tests/test_infer.c LIBS restpg_model)
# sampler.c uses trainer/dp.h (MPI helpers), which restpg_sampler does not declare as a dependency.
restpg_test(test_sampler_gen SOURCES tests/test_sampler_gen.c LIBS restpg_sampler restpg_trainer)

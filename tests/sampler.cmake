restpg_test(test_sampling SOURCES tests/test_sampling.c LIBS restpg_sampler)

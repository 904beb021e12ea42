# Issue 15, "silent NaN": model files are checksummed and checked finite on load, training stops
# on a non-finite loss without writing it, the sampler refuses NaN logits (model/checkpoint.c,
# model/llmc.c, trainer/trainer.c, sampler/sampling.c).
restpg_test(test_checkpoint_flips SOURCES tests/test_checkpoint_flips.c LIBS restpg_model)
restpg_script_test(test_hard_nan SCRIPT hard_nan.sh)

# TensorBoard event files (core/tbevents.h, docs/formats.md): a tiny run, a killed and resumed
# pretrain and a cut file, read back by the tensorboard package's EventAccumulator and served by
# `tensorboard --logdir` (on a free localhost port), compared with the metrics JSON (tests/tensorboard.sh, tests/tensorboard_ref.py). The CRC32C and framing
# unit test is test_tbevents (tests/core.cmake).
restpg_script_test(tensorboard SCRIPT tensorboard.sh LABELS "model;mpi" TIMEOUT 1200)

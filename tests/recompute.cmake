# Activation recomputation (model_set_recompute in model/gpt.c, model/llama.c): bitwise the same
# loss, logits, gradients and AdamW steps as without, for GPT-2, Gemma 3, Llama and Qwen3; the planned bytes.
restpg_test(test_recompute SOURCES tests/test_recompute.c LIBS restpg_model)
# The whole tiny pipeline (pretrain, SFT, two EM rounds, 2 ranks) with train.recompute on writes
# the same outputs as the recorded code without it (tests/refactor_golden.sh).
restpg_script_test(refactor_golden_recompute SCRIPT refactor_golden.sh LABELS "slow;mpi" TIMEOUT 900)
set_tests_properties(refactor_golden_recompute PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT
  "${RESTPG_TEST_ENV};RESTPG_GOLDEN_EXTRA=train: {recompute: true};RESTPG_GOLDEN_LOG=recomputed per layer")

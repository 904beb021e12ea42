# The Llama family (model/llama.c: Llama, Qwen2, Qwen3, Gemma 3) and its kernels
# (kernels/cpu/rmsnorm.c, rope.c, geglu.c, attention_gqa.c): per-op references and thread
# determinism, forward/backward parity of every variant with an independent PyTorch float64
# implementation (tests/llama_ref.py); KV-cached decoding (kernels/cpu/decoder_llama.c) against
# the full forward, and its batch invariance; checkpoints of every variant (model/checkpoint.c).
restpg_test(test_kernels_llama SOURCES tests/test_kernels_llama.c LIBS restpg_kernels)
restpg_test(test_llama SOURCES tests/test_llama.c LIBS restpg_model)
restpg_test(test_decode_llama SOURCES tests/test_decode_llama.c LIBS restpg_model)
restpg_test(test_llama_checkpoint SOURCES tests/test_llama_checkpoint.c LIBS restpg_model)

# Gemma 3 (model/gemma3.c) and its kernels (kernels/cpu/rmsnorm.c, rope.c, geglu.c,
# attention_gqa.c): per-op references and thread determinism, and forward/backward parity with an
# independent PyTorch float64 implementation (tests/gemma3_ref.py); KV-cached decoding
# (kernels/cpu/decoder_gemma3.c) against the full forward, and its batch invariance.
restpg_test(test_kernels_gemma SOURCES tests/test_kernels_gemma.c LIBS restpg_kernels)
restpg_test(test_gemma3 SOURCES tests/test_gemma3.c LIBS restpg_model)
restpg_test(test_decode_gemma3 SOURCES tests/test_decode_gemma3.c LIBS restpg_model)

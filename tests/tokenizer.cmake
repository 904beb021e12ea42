# Tokenizer tests: GPT-2 parity and file errors, training, and the `restpg tokenizer` CLI.
restpg_test(test_tokenizer SOURCES tests/test_tokenizer.c LIBS restpg_data)
restpg_test(test_tokenizer_train SOURCES tests/test_tokenizer_train.c LIBS restpg_data)
restpg_test(test_tokenizer_cli SOURCES tests/test_tokenizer_cli.c LIBS restpg_data)
# SentencePiece vocabularies: a hand-made one (unit), and Gemma 3's against llama.cpp (model:
# needs scripts/model_env.sh's venv and GGUF; exit 77 = skipped when llama_cpp is missing).
restpg_test(test_tokenizer_spm SOURCES tests/test_tokenizer_spm.c LIBS restpg_data)
add_test(NAME test_tokenizer_spm_model COMMAND test_tokenizer_spm --model)
set_tests_properties(test_tokenizer_spm_model PROPERTIES LABELS model TIMEOUT 1800 SKIP_RETURN_CODE 77
  ENVIRONMENT "${RESTPG_TEST_ENV}")
# tokenizer.json vocabularies: hand-written files (unit), and GPT-2, Llama 3-, Qwen2-, Llama 2- and
# Gemma-style files built with PyPI tokenizers, compared text by text with it (model).
restpg_test(test_tokenizer_hf SOURCES tests/test_tokenizer_hf.c LIBS restpg_data)
add_test(NAME test_tokenizer_hf_model COMMAND test_tokenizer_hf --model)
set_tests_properties(test_tokenizer_hf_model PROPERTIES LABELS model TIMEOUT 1800
  ENVIRONMENT "${RESTPG_TEST_ENV}")
# Hugging Face export (tokenizer_save_hf, `restpg tokenizer export --hf`): round trips (unit), and
# GPT-2, a trained RPTK, the loader's tokenizer.json files and Gemma 3's GGUF vocabulary against
# PyPI tokenizers and transformers' AutoTokenizer (model).
restpg_test(test_tokenizer_export SOURCES tests/test_tokenizer_export.c LIBS restpg_model)
add_test(NAME test_tokenizer_export_model COMMAND test_tokenizer_export --model)
set_tests_properties(test_tokenizer_export_model PROPERTIES LABELS model TIMEOUT 1800
  ENVIRONMENT "${RESTPG_TEST_ENV}")

# Tokenizer tests: GPT-2 parity and file errors, training, and the `restpg tokenizer` CLI.
restpg_test(test_tokenizer SOURCES tests/test_tokenizer.c LIBS restpg_data)
restpg_test(test_tokenizer_train SOURCES tests/test_tokenizer_train.c LIBS restpg_data)
restpg_test(test_tokenizer_cli SOURCES tests/test_tokenizer_cli.c LIBS restpg_data)

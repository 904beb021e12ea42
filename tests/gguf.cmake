# GGUF reader (model/gguf.c, model/gguf_quant.c). The fixture writes small GGUF files and gguf-py's
# reading of them with the venv of scripts/model_env.sh (it fails, not skips, without it);
# test_gguf compares bit for bit and tries corrupt files. test_gguf_real (label model) does every
# tensor of the real Gemma 3 270M GGUF against gguf-py.
add_test(NAME test_gguf_files COMMAND bash -c [=[
set -eo pipefail
py=$(RESTPG_NO_LLAMA=1 bash "$RESTPG_SOURCE_DIR/scripts/model_env.sh" | sed -n 's/^python=//p')
test -n "$py"
rm -rf "$RESTPG_TEST_TMP/gguf"
exec "$py" "$RESTPG_SOURCE_DIR/tests/make_gguf.py" files "$RESTPG_TEST_TMP/gguf"]=])
set_tests_properties(test_gguf_files PROPERTIES LABELS unit TIMEOUT 1800
  ENVIRONMENT "${RESTPG_TEST_ENV}" FIXTURES_SETUP gguf_files)
restpg_test(test_gguf SOURCES tests/test_gguf.c LIBS restpg_model)
set_tests_properties(test_gguf PROPERTIES FIXTURES_REQUIRED gguf_files)
add_test(NAME test_gguf_real COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gguf_real.sh $<TARGET_FILE:test_gguf>)
set_tests_properties(test_gguf_real PROPERTIES LABELS model TIMEOUT 1800
  ENVIRONMENT "${RESTPG_TEST_ENV}")

# safetensors files (model/safetensors*.c). test_safetensors needs no Python: bf16 rounding, the
# writer read back, and bad headers, truncations, flips and bad indexes. test_safetensors_ref (label
# model) compares with PyPI's safetensors in both directions through tests/safetensors_ref.sh. The
# CLI's bad-input cases are tests/safetensors_bad.sh (also run under the sanitizers).
restpg_test(test_safetensors SOURCES tests/test_safetensors.c LIBS restpg_model)
add_executable(test_safetensors_ref ${CMAKE_SOURCE_DIR}/tests/test_safetensors_ref.c)
target_link_libraries(test_safetensors_ref PRIVATE restpg_model)
target_include_directories(test_safetensors_ref PRIVATE ${CMAKE_SOURCE_DIR})
add_test(NAME test_safetensors_ref COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/safetensors_ref.sh
  $<TARGET_FILE:test_safetensors_ref>)
set_tests_properties(test_safetensors_ref PROPERTIES LABELS model TIMEOUT 1800
  ENVIRONMENT "${RESTPG_TEST_ENV}")
restpg_script_test(safetensors_bad SCRIPT safetensors_bad.sh LABELS unit sanitize TIMEOUT 600)
# config.json parsing and writing for Hugging Face directories (model/hf_config.c).
restpg_test(test_hf_config SOURCES tests/test_hf_config.c LIBS restpg_model)

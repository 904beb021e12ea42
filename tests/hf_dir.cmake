# Hugging Face directories (model/hf_dir.c, hf_config.c, hf_tensors.c): tiny random Llama, Qwen2,
# Qwen3 and Gemma 3 directories written with PyPI's safetensors, loaded by restpg, loss and
# gradients against a float64 PyTorch reference (tests/hf_dir.sh, tests/hf_dir_ref.py); bad
# directories refused by name.
add_executable(test_hf_dir ${CMAKE_SOURCE_DIR}/tests/test_hf_dir.c)
target_link_libraries(test_hf_dir PRIVATE restpg_model)
target_include_directories(test_hf_dir PRIVATE ${CMAKE_SOURCE_DIR})
add_test(NAME hf_dir COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/hf_dir.sh $<TARGET_FILE:test_hf_dir>)
set_tests_properties(hf_dir PROPERTIES LABELS model TIMEOUT 1800 ENVIRONMENT "${RESTPG_TEST_ENV}" DEPENDS restpg)
# restpg export --hf, read back by PyPI safetensors/tokenizers (tiny GPT-2, the real Gemma 3 270M).
restpg_script_test(hf_export SCRIPT hf_export.sh LABELS model TIMEOUT 1800)

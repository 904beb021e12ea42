# The real Gemma 3 270M (label model): restpg's forward over the imported GGUF against llama.cpp.
add_executable(gemma_real ${CMAKE_SOURCE_DIR}/tests/gemma_real.c)
target_link_libraries(gemma_real PRIVATE restpg_model)
target_include_directories(gemma_real PRIVATE ${CMAKE_SOURCE_DIR})
add_test(NAME gemma_real COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gemma_real.sh)
set_tests_properties(gemma_real PROPERTIES LABELS model TIMEOUT 2400
  ENVIRONMENT "${RESTPG_TEST_ENV};GEMMA_REAL=$<TARGET_FILE:gemma_real>")
# The whole method from the real model (label model): import, SFT, an EM round, evaluation, resume.
add_test(NAME gemma_pipeline COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gemma_pipeline.sh)
set_tests_properties(gemma_pipeline PROPERTIES LABELS model TIMEOUT 2400 ENVIRONMENT "${RESTPG_TEST_ENV}")

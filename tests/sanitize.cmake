# The safety net (docs/testing.md): one fuzz target per parser, tests/fuzz/fuzz_NAME.c, and its
# seed corpus tests/fuzz/corpus/NAME/. With RESTPG_FUZZ=ON (CC=clang) the targets link libFuzzer
# and scripts/test runs each for a bounded time; in every other build they link
# tests/fuzz/replay_main.c, and the test fuzz_replay_NAME feeds them the committed corpus once --
# under the sanitizer build that is where a reproducer committed after a fix keeps being checked.
# Labels unit and sanitize: the sanitizer CI step runs `-L 'unit|sanitize'`.
set(RESTPG_FUZZ_TARGETS
  jsonl:restpg_data config:restpg_launch tokenizer:restpg_data tokenizer_hf:restpg_data dataset:restpg_data
  samples:restpg_data checkpoint:restpg_model gguf:restpg_model judge:restpg_reward
  safetensors:restpg_model)
add_custom_target(fuzz_all)
foreach(spec ${RESTPG_FUZZ_TARGETS})
  string(REPLACE ":" ";" parts ${spec})
  list(GET parts 0 name)
  list(GET parts 1 lib)
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
  if(RESTPG_FUZZ)
    add_executable(fuzz_${name} fuzz/fuzz_${name}.c)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    set(replay fuzz_${name} -runs=0 ${corpus}) # -runs=0: execute the corpus, mutate nothing
  else()
    add_executable(fuzz_${name} fuzz/fuzz_${name}.c fuzz/replay_main.c)
    set(replay fuzz_${name} ${corpus})
  endif()
  target_link_libraries(fuzz_${name} PRIVATE ${lib})
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_SOURCE_DIR})
  add_dependencies(fuzz_all fuzz_${name})
  add_test(NAME fuzz_replay_${name} COMMAND ${replay})
  set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS "unit;sanitize" TIMEOUT 300
    ENVIRONMENT "${RESTPG_TEST_ENV};TMPDIR=${CMAKE_CURRENT_BINARY_DIR}/tmp")
endforeach()

# The E-step sampler (kernels/cpu/decoder, kernels/cpu/decode, sampler/sampler): KV-cache correctness,
# determinism across batch sizes, threads and ranks, resume after kill -9, CLI errors.
restpg_test(test_infer SOURCES tests/test_infer.c LIBS restpg_model)
# sampler.c uses trainer/dp.h (MPI helpers), which restpg_sampler does not declare as a dependency.
restpg_test(test_sampler_gen SOURCES tests/test_sampler_gen.c LIBS restpg_sampler restpg_trainer)
restpg_script_test(test_sampler_cli SCRIPT sampler_cli.sh)
restpg_script_test(test_sampler_resume SCRIPT sampler_resume.sh)

# 1 rank vs 2 and 3 ranks (sampler_mpi.sh): the 1-rank run is the fixture's setup, the comparison
# its cleanup, so `ctest -L mpi` or `-R sampler_mpi` runs all of them in order.
foreach(step setup check)
  add_test(NAME test_sampler_mpi_${step} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sampler_mpi.sh ${step})
  set_tests_properties(test_sampler_mpi_${step} PROPERTIES LABELS mpi TIMEOUT 300 ENVIRONMENT "${RESTPG_TEST_ENV}")
endforeach()
set_tests_properties(test_sampler_mpi_setup PROPERTIES FIXTURES_SETUP sampler_mpi)
set_tests_properties(test_sampler_mpi_check PROPERTIES FIXTURES_CLEANUP sampler_mpi)
foreach(np 2 3)
  restpg_mpi_test(test_sampler_mpi_${np}ranks NP ${np} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sampler_mpi.sh run ${np})
  set_tests_properties(test_sampler_mpi_${np}ranks PROPERTIES FIXTURES_REQUIRED sampler_mpi RESOURCE_LOCK sampler_mpi)
endforeach()
restpg_script_test(test_sampler_budget SCRIPT sampler_budget.sh)

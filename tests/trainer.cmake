# Trainer, checkpoints, llm.c import/export and data parallelism (trainer/, model/checkpoint.c,
# model/llmc.c, model/config.c, launch/cmd_train.c, cmd_loss.c, cmd_convert.c).
restpg_test(test_trainer SOURCES tests/test_trainer.c LIBS restpg_trainer)
restpg_test(test_checkpoint SOURCES tests/test_checkpoint.c LIBS restpg_model)
restpg_script_test(test_trainer_cli SCRIPT trainer_cli.sh)
restpg_script_test(test_trainer_resume SCRIPT trainer_resume.sh)
restpg_script_test(test_trainer_llmc SCRIPT trainer_llmc.sh)

# 1 rank vs 2 and 3 ranks, bitwise (trainer_dp.sh): the 1-rank run is the fixture's setup, the
# comparison its cleanup, so `ctest -L mpi` or `-R trainer_dp` runs all of them in order.
foreach(step setup check)
  add_test(NAME test_trainer_dp_${step} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/trainer_dp.sh ${step})
  set_tests_properties(test_trainer_dp_${step} PROPERTIES LABELS mpi TIMEOUT 300 ENVIRONMENT "${RESTPG_TEST_ENV}")
endforeach()
set_tests_properties(test_trainer_dp_setup PROPERTIES FIXTURES_SETUP trainer_dp)
set_tests_properties(test_trainer_dp_check PROPERTIES FIXTURES_CLEANUP trainer_dp)
foreach(np 2 3)
  restpg_mpi_test(test_trainer_dp_${np}ranks NP ${np} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/trainer_dp.sh run ${np})
  set_tests_properties(test_trainer_dp_${np}ranks PROPERTIES FIXTURES_REQUIRED trainer_dp RESOURCE_LOCK trainer_dp)
endforeach()
restpg_script_test(test_trainer_dp_idle SCRIPT trainer_dp_idle.sh LABELS mpi)

# The backends' collectives (kernels/backend.h) against rank-order sums computed in the test: the
# CPU backend's and the CUDA entry points in the SIMT emulation, on 1, 2 and 3 ranks; with nvcc,
# the same file against NCCL (label gpu).
add_executable(test_comm ${CMAKE_SOURCE_DIR}/tests/test_comm.c)
target_link_libraries(test_comm PRIVATE restpg_kernels_cuda_emu restpg_kernels_cpu)
target_include_directories(test_comm PRIVATE ${CMAKE_SOURCE_DIR})
foreach(np 1 2 3)
  restpg_mpi_test(test_comm_${np}ranks NP ${np} COMMAND $<TARGET_FILE:test_comm> TIMEOUT 300)
endforeach()
# NCCL: one device per rank, skipped (77) where there are fewer; at most 2 ranks, where a sum is
# one addition, so NCCL's order gives the rank-order bits the test expects.
if(RESTPG_HAVE_CUDA)
  add_executable(test_comm_gpu ${CMAKE_SOURCE_DIR}/tests/test_comm.c)
  target_link_libraries(test_comm_gpu PRIVATE restpg_kernels_cuda restpg_kernels_cpu)
  target_include_directories(test_comm_gpu PRIVATE ${CMAKE_SOURCE_DIR})
  foreach(np 1 2)
    restpg_mpi_test(test_comm_gpu_${np}ranks NP ${np} COMMAND $<TARGET_FILE:test_comm_gpu> LABELS gpu TIMEOUT 300)
    set_tests_properties(test_comm_gpu_${np}ranks PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()
# The all-reduce against the tree, ZeRO-1 against the plain all-reduce (bitwise), resume across
# ZeRO on/off and onto another rank count, on 2 and 3 ranks (mpiexec inside the script).
restpg_script_test(test_trainer_zero SCRIPT trainer_zero.sh LABELS mpi TIMEOUT 600)

# The gradient all-reduce overlapped with the backward (trainer/dp.h, model/model.h's hook, the
# backends' allreduce_sum_start / comm_wait): tests/test_dp_overlap.c on 1, 2 and 3 ranks over the
# CPU backend and the CUDA table in the SIMT emulation; with nvcc, the same file on NCCL (label
# gpu, one device per rank, at most 2 ranks, where NCCL's sum is one addition and so bitwise).
# trainer_overlap.sh: whole runs with --overlap 1 and 0, bitwise, on 1 to 3 ranks.
add_executable(test_dp_overlap ${CMAKE_SOURCE_DIR}/tests/test_dp_overlap.c)
target_link_libraries(test_dp_overlap PRIVATE restpg_trainer restpg_kernels_cuda_emu)
target_include_directories(test_dp_overlap PRIVATE ${CMAKE_SOURCE_DIR})
foreach(np 1 2 3)
  restpg_mpi_test(test_dp_overlap_${np}ranks NP ${np} COMMAND $<TARGET_FILE:test_dp_overlap> TIMEOUT 600)
endforeach()
if(RESTPG_HAVE_CUDA)
  add_executable(test_dp_overlap_gpu ${CMAKE_SOURCE_DIR}/tests/test_dp_overlap.c)
  target_link_libraries(test_dp_overlap_gpu PRIVATE restpg_trainer restpg_kernels_cuda)
  target_include_directories(test_dp_overlap_gpu PRIVATE ${CMAKE_SOURCE_DIR})
  foreach(np 1 2)
    restpg_mpi_test(test_dp_overlap_gpu_${np}ranks NP ${np} COMMAND $<TARGET_FILE:test_dp_overlap_gpu> LABELS gpu TIMEOUT 300)
    set_tests_properties(test_dp_overlap_gpu_${np}ranks PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()
restpg_script_test(test_trainer_overlap SCRIPT trainer_overlap.sh LABELS mpi TIMEOUT 900)

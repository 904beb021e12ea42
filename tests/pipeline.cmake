restpg_test(test_config SOURCES tests/test_config.c LIBS restpg_launch)
restpg_script_test(pipeline_errors SCRIPT pipeline_errors.sh)
restpg_script_test(pipeline_run SCRIPT pipeline_run.sh LABELS "slow;mpi" TIMEOUT 900)
restpg_script_test(pipeline_em SCRIPT pipeline_em.sh LABELS "slow;mpi" TIMEOUT 900)

# Launching on clusters: `restpg launch` command lines and argv handling (unit, seconds), and the
# sbatch templates on a real single-node Slurm cluster started by slurm/local-cluster (slow; each
# test starts its own cluster in a temp dir and stops it on exit; they skip, status 77, when not
# root or when Slurm/munge are not installed). Run the set with `ctest -L slurm`.
restpg_script_test(test_slurm_launch SCRIPT slurm_launch.sh LABELS unit slurm TIMEOUT 60)
restpg_script_test(test_slurm_job SCRIPT slurm_job.sh LABELS slow slurm TIMEOUT 240)
restpg_script_test(test_slurm_requeue SCRIPT slurm_requeue.sh LABELS slow slurm TIMEOUT 420)
set_tests_properties(test_slurm_job test_slurm_requeue PROPERTIES SKIP_RETURN_CODE 77)

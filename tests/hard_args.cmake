# Issue 15, hardening of arguments, config, stuck ranks and the judge: bad values refused with exit 2
# before any work, a stopped rank ending the job by name, and a hostile judge contained.
restpg_script_test(hard_args SCRIPT hard_args.sh)
restpg_script_test(hard_judge SCRIPT hard_judge.sh)
restpg_script_test(hard_watchdog SCRIPT hard_watchdog.sh LABELS "mpi" TIMEOUT 300)

# Hardening against bad files (issue 15): corrupt and short HDF5 inputs, a full disk, --out naming
# an input, stale temp files, inputs that are devices or too large (tests/hard_files.sh).
restpg_script_test(hard_files SCRIPT hard_files.sh TIMEOUT 900)

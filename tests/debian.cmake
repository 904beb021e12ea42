# data/debian.c, data/aptlists.c and `restpg data debian`: fixture lists (unit), the CLI's exit
# codes and determinism (unit), and a build from this machine's real apt lists (skips without them).
restpg_test(test_debian SOURCES tests/test_debian.c LIBS restpg_data)
restpg_script_test(test_debian_cli SCRIPT debian_cli.sh)
restpg_script_test(test_debian_real SCRIPT debian_real.sh)
set_tests_properties(test_debian_real PROPERTIES SKIP_RETURN_CODE 77)

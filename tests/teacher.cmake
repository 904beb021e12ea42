restpg_test(test_teacher SOURCES tests/test_teacher.c LIBS restpg_data)
restpg_script_test(cli_reason SCRIPT cli_reason.sh)
restpg_script_test(cli_teacher SCRIPT cli_teacher.sh)

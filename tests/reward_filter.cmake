restpg_test(test_filter SOURCES tests/test_filter.c LIBS restpg_reward)
restpg_test(test_judge SOURCES tests/test_judge.c LIBS restpg_reward)
restpg_script_test(cli_reward SCRIPT cli_reward.sh)

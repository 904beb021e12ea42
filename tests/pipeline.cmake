restpg_test(test_config SOURCES tests/test_config.c LIBS restpg_launch)

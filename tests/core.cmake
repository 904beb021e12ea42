restpg_test(test_dataset SOURCES tests/test_dataset.c LIBS restpg_data)

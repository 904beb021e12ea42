restpg_test(test_dataset SOURCES tests/test_dataset.c LIBS restpg_data)
restpg_test(test_args SOURCES tests/test_args.c LIBS restpg_core)
restpg_test(test_vec SOURCES tests/test_vec.c LIBS restpg_core)
restpg_test(test_tbevents SOURCES tests/test_tbevents.c LIBS restpg_core)

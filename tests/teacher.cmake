restpg_test(test_teacher SOURCES tests/test_teacher.c LIBS restpg_data)

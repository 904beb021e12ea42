# LongLaMP import and the synthetic dataset (data/longlamp.c, data/synth.c, `restpg data import|synth`).
restpg_test(test_longlamp SOURCES tests/test_longlamp.c LIBS restpg_data)
restpg_test(test_synth SOURCES tests/test_synth.c LIBS restpg_data)
restpg_script_test(test_import_cli SCRIPT import_cli.sh)

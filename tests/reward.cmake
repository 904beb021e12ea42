# reward/: metrics against their Python references (tests/reference/*), and the `restpg score` CLI.
restpg_test(test_porter SOURCES tests/test_porter.c LIBS restpg_reward)
restpg_test(test_rouge SOURCES tests/test_rouge.c LIBS restpg_reward)
restpg_script_test(test_score SCRIPT test_score.sh)
restpg_test(test_meteor SOURCES tests/test_meteor.c LIBS restpg_reward)
# METEOR against both NLTK releases, live (Python references from the model venv: label model).
restpg_script_test(test_meteor_nltk SCRIPT meteor_nltk.sh LABELS model TIMEOUT 1800)
restpg_test(test_bootstrap SOURCES tests/test_bootstrap.c LIBS restpg_reward)

# Retrieval (BM25) and prompt building.
restpg_test(test_bm25 SOURCES tests/test_bm25.c LIBS restpg_data)
restpg_test(test_prompt SOURCES tests/test_prompt.c LIBS restpg_data)
restpg_script_test(test_prompt_cli SCRIPT prompt_cli.sh)

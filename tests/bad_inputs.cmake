# The bad-input catalogue of issue 15 (tests/bad_inputs.sh, docs/testing.md): every case of the
# issue checkable from the CLI plus bit flips of every file kind. Labels unit and sanitize, so the
# sanitizer CI step runs it again under ASan + UBSan.
restpg_script_test(bad_inputs SCRIPT bad_inputs.sh LABELS unit sanitize TIMEOUT 1200)

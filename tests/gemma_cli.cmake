# Using an imported model by hand (label model): tokenizer, generate --prompt, loss and convert on
# the real Gemma 3 270M GGUF, bad GGUF files, and the plain-text generate on a tiny GPT-2.
restpg_script_test(gemma_cli SCRIPT gemma_cli.sh LABELS model TIMEOUT 1800)

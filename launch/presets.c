/* The named presets (see presets.h). The paper's values are as ../shared/docs/method.md records
 * them from a re-implementation's transcription of the paper's appendix (unverified against the
 * paper itself), and issue 14's list for top-p and tau. */
#include "launch/presets.h"

#include <string.h>

#include "core/log.h"

typedef struct {
    const char *assignment, *source;
} PresetEntry;

typedef struct {
    const char *name, *summary;
    const PresetEntry *entries;
} Preset;

static const char PAPER[] = "paper (appendix, via a re-implementation; unverified)";
static const char ISSUE[] = "the paper's family as issue 14 lists it";
static const char REIMPL[] = "the re-implementation (the paper does not say)";
static const char OURS[] = "restpg's choice";

static const PresetEntry DEMO[] = {
    {"em.mstep_init=previous", "restpg: a ~1M-parameter model restarted from base forgets the SFT stage"},
    {"em.limit=256", "restpg: a fresh random 256 train inputs per round keeps the demo within minutes"},
    {NULL, NULL},
};

static const PresetEntry PAPER_SETTINGS[] = {
    {"em.rounds=3", PAPER},
    {"em.n=32", PAPER},
    {"em.temperature=0.7", PAPER},
    {"em.top_p=0.9", ISSUE},
    {"em.keep=10", PAPER},
    {"em.tau=0.3", ISSUE},
    {"em.limit=0", "ReST-EM: every train input in every E-step"},
    {"em.mstep_init=base", "ReST-EM: each M-step fine-tunes the base model"},
    {"prompt.k=5", REIMPL},
    {"sft.lr=5e-6", PAPER},
    {"em.lr=5e-6", PAPER},
    {"sft.batch_size=8", "batch 64 (paper) as 8 sequences x 8 micro-batches"},
    {"sft.grad_accum=8", "batch 64 (paper) as 8 sequences x 8 micro-batches"},
    {"em.batch_size=8", "batch 64 (paper) as 8 sequences x 8 micro-batches"},
    {"em.grad_accum=8", "batch 64 (paper) as 8 sequences x 8 micro-batches"},
    {"sft.warmup=250", PAPER},
    {"em.warmup_frac=0.1", "the paper's 250 warm-up steps as a share: M-steps here are sized by em.epochs"},
    {"train.schedule=linear", "linear decay after warm-up (paper)"},
    {"model.n_positions=6656", "5,120 input + 1,536 output tokens (paper)"},
    {"em.max_new_tokens=1536", PAPER},
    {"eval.max_new_tokens=1536", PAPER},
    {"em.epochs=1", OURS},
    {NULL, NULL},
};

static const Preset PRESETS[] = {
    {"demo", "the 2-core CPU demo", DEMO},
    {"paper", "the REST-PG paper's settings, sized for GPU clusters: N = 32 candidates of up to 1,536 tokens for every "
              "train input in each of 3 rounds, in a 6,656-token context; run it with --device cuda (restpg launch "
              "--gpus-per-node) on a pretrained model.init (the paper fine-tunes Gemma)",
     PAPER_SETTINGS},
};

static const Preset *find(const char *name) {
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        if (!strcmp(PRESETS[i].name, name)) return &PRESETS[i];
    return NULL;
}

int preset_apply(RunConfig *c, const char *name, Error *e) {
    const Preset *p = find(name);
    if (!p) return error_set(e, RP_EINPUT, "--preset '%s': unknown preset (known: " PRESET_NAMES ")", name);
    log_info("preset %s: %s", p->name, p->summary);
    for (const PresetEntry *q = p->entries; q->assignment; q++) {
        int rc = config_set(c, q->assignment, p->name, e);
        if (rc) return error_wrap(e, "preset %s", p->name);
        log_info("  %-26s %s", q->assignment, q->source);
    }
    return RP_OK;
}

void preset_check_final(const RunConfig *c, const char *name) {
    if (!name || strcmp(name, "paper")) return;
    if (!c->model.init[0])
        log_warn("preset paper: model.init is empty, so a small model is pretrained here; the paper fine-tunes a "
                 "pretrained Gemma (model.init=gguf:FILE or hf:DIR)");
    if (!strcmp(c->device, "cpu"))
        log_warn("preset paper: sized for GPU clusters; on the CPU one E-step alone samples 32 x 1,536 tokens per "
                 "train input");
}

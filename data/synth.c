/* The synthetic personalized task (see synth.h): vocabulary tables, a counter-based generator and
 * the note writer. */
#include "data/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"

#define N_TOPICS 12
#define N_NOUNS 4

/* Nouns are singular so every template agrees with every noun. */
typedef struct {
    const char *name;           /* what the input asks about */
    const char *noun[N_NOUNS];  /* what notes about it mention */
    const char *favourite;      /* how a fan of it refers to it in other notes */
} Topic;

static const Topic TOPICS[N_TOPICS] = {
    {"gardening", {"the tomato plant", "the soil", "a seedling", "the compost"}, "my little garden"},
    {"cooking", {"fresh bread", "the soup", "the garlic", "the oven"}, "a warm kitchen"},
    {"cycling", {"the bike", "the steep hill", "the chain", "a long ride"}, "an open road"},
    {"music", {"the piano", "an old record", "a melody", "the choir"}, "a quiet song"},
    {"chess", {"the opening", "a pawn", "the endgame", "the board"}, "a chess puzzle"},
    {"astronomy", {"the moon", "a distant star", "the telescope", "a comet"}, "the night sky"},
    {"painting", {"the canvas", "the palette", "a brush", "the sketch"}, "a fresh painting"},
    {"hiking", {"the trail", "the summit", "the map", "the forest"}, "a mountain path"},
    {"coffee", {"the roast", "a strong espresso", "the grinder", "the morning cup"}, "the first cup"},
    {"books", {"the novel", "the library", "the bookshelf", "the last chapter"}, "a long novel"},
    {"trains", {"the station", "the timetable", "a night train", "the platform"}, "a slow train"},
    {"birds", {"the robin", "the feeder", "the owl", "a small nest"}, "a singing robin"},
};

#define N_TONES 3
#define N_BODY 6

/* Sentence templates per register: %1 and %2 are two different nouns of the topic, %f a
 * favourite. The register shows in every sentence, so it is learnable from any profile item. */
typedef struct {
    const char *name;
    const char *body[N_BODY];
    const char *link;
} Tone;

static const Tone TONES[N_TONES] = {
    {"formal",
     {"I find that %1 rewards patience.", "It is worth noting that %1 depends on %2.", "One should consider %1 with care.",
      "In my experience, %1 improves with practice.", "I would recommend %1 to any reader.",
      "Careful attention to %1 is essential."},
     "It reminds me of %f in many ways."},
    {"casual",
     {"Honestly, %1 is just fun.", "I kinda love %1 and %2.", "No joke, %1 made my week.", "Pretty sure %1 beats %2.",
      "Anyway, %1 was okay today.", "Gotta say, %1 is cool."},
     "Kinda like %f, really."},
    {"enthusiastic",
     {"Wow, %1 is amazing!", "I absolutely adore %1!", "Nothing beats %1 and %2!", "Today %1 was fantastic!",
      "Seriously, %1 makes me smile!", "I cannot wait to see %1 again!"},
     "Just like %f, pure joy!"},
};

#define N_SIGN 12
static const char *const OPENINGS[N_SIGN] = {
    "Dear diary,",          "Quick thought:",   "Here goes.",     "Note to self:",
    "Greetings, friends.",  "Hello again.",     "Listen up.",     "So, here we are.",
    "Good morning, everyone.", "A small confession:", "Fresh from the desk:", "Right then.",
};
static const char *const CLOSINGS[N_SIGN] = {
    "Until next time.", "That is all.",   "Peace out.",          "Stay curious.",
    "More soon.",       "Onwards!",       "Yours truly.",        "Take care.",
    "Over and out.",    "Thanks for reading.", "Enough for today.", "Catch you later.",
};

/* Body sentences per length class; the writer then keeps every note within 20..80 words. */
static const int BODY_RANGE[3][2] = {{2, 3}, {4, 5}, {6, 7}};
#define MIN_WORDS 20
#define MAX_WORDS 80

/* A counter-based generator: each (seed, stream, a, b) names its own sequence, so user u's
 * traits and notes come out the same whatever else is generated. splitmix64 finalises the
 * counters into a state, xorshift64* steps it. */
typedef struct {
    uint64_t s;
} Rng;

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { STREAM_USER = 1, STREAM_NOTE = 2, STREAM_SPLIT = 3 };

static void rng_init(Rng *r, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
    r->s = mix64(seed ^ mix64(stream ^ mix64(a ^ mix64(b))));
    if (!r->s) r->s = 1; /* xorshift's one fixed point */
}

static uint64_t rng_next(Rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n) for small n (the modulo bias is below 2^-30). */
static int rng_below(Rng *r, int n) { return (int)((rng_next(r) >> 32) % (uint64_t)n); }

typedef struct {
    int tone, opening, closing, fav[2], length;
} Traits;

static void traits_draw(uint64_t seed, long u, Traits *t) {
    Rng r;
    rng_init(&r, seed, STREAM_USER, (uint64_t)u, 0);
    t->tone = rng_below(&r, N_TONES);
    t->opening = rng_below(&r, N_SIGN);
    t->closing = rng_below(&r, N_SIGN);
    t->length = rng_below(&r, 3);
    t->fav[0] = rng_below(&r, N_TOPICS);
    t->fav[1] = (t->fav[0] + 1 + rng_below(&r, N_TOPICS - 1)) % N_TOPICS;
}

void synth_user(uint64_t seed, long u, SynthUser *out) {
    Traits t;
    traits_draw(seed, u, &t);
    out->tone = TONES[t.tone].name;
    out->opening = OPENINGS[t.opening];
    out->closing = CLOSINGS[t.closing];
    out->favourite[0] = TOPICS[t.fav[0]].favourite;
    out->favourite[1] = TOPICS[t.fav[1]].favourite;
    out->body_min = BODY_RANGE[t.length][0];
    out->body_max = BODY_RANGE[t.length][1];
}

static int count_words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int sp = *s == ' ';
        n += !sp && !in;
        in = !sp;
    }
    return n;
}

/* Appends a template with its %1 %2 %f slots filled. */
static int fill(StrBuf *b, const char *tpl, const char *n1, const char *n2, const char *fav, Error *e) {
    if (b->len && strbuf_puts(b, " ", e)) return RP_ENOMEM;
    for (const char *p = tpl; *p; p++) {
        const char *slot = NULL;
        if (p[0] == '%' && p[1]) slot = p[1] == '1' ? n1 : p[1] == '2' ? n2 : p[1] == 'f' ? fav : NULL;
        int rc = slot ? strbuf_puts(b, slot, e) : strbuf_append(b, p, 1, e);
        if (rc) return rc;
        if (slot) p++;
    }
    return RP_OK;
}

/* Writes user t's note number k into text (cleared first); *topic gets its topic. */
static int note_write(uint64_t seed, long u, long k, const Traits *t, StrBuf *text, int *topic, Error *e) {
    Rng r;
    rng_init(&r, seed, STREAM_NOTE, (uint64_t)u, (uint64_t)k);
    const Tone *tone = &TONES[t->tone];
    const Topic *tp = &TOPICS[*topic = rng_below(&r, N_TOPICS)];
    int body = BODY_RANGE[t->length][0] + rng_below(&r, BODY_RANGE[t->length][1] - BODY_RANGE[t->length][0] + 1);
    int closing_words = count_words(CLOSINGS[t->closing]);
    StrBuf sent;
    strbuf_init(&sent);
    strbuf_clear(text);
    int rc = fill(text, OPENINGS[t->opening], NULL, NULL, NULL, e);
    /* Body sentences, with the favourite link after the first; past the planned count only
     * while the note is under MIN_WORDS, and never past MAX_WORDS. */
    for (int i = 0; !rc; i++) {
        int a = rng_below(&r, N_NOUNS), b2 = (a + 1 + rng_below(&r, N_NOUNS - 1)) % N_NOUNS;
        const char *tpl = i == 1 ? tone->link : tone->body[rng_below(&r, N_BODY)];
        const char *fav = TOPICS[t->fav[rng_below(&r, 2)]].favourite;
        strbuf_clear(&sent);
        if ((rc = fill(&sent, tpl, tp->noun[a], tp->noun[b2], fav, e))) break;
        int have = count_words(text->s), add = count_words(sent.s);
        if (have + add + closing_words > MAX_WORDS) break;
        if (i >= body + 1 && have + closing_words >= MIN_WORDS) break;
        rc = fill(text, sent.s, NULL, NULL, NULL, e);
    }
    if (!rc) rc = fill(text, CLOSINGS[t->closing], NULL, NULL, NULL, e);
    strbuf_free(&sent);
    return rc;
}

/* Splits users into train/val/test by a seeded shuffle: about 10% each for val and test. */
static int split_users(uint64_t seed, long users, char *split_of, Error *e) {
    long *perm = xmalloc(sizeof(long) * (size_t)users, e);
    if (!perm) return RP_ENOMEM;
    for (long i = 0; i < users; i++) perm[i] = i;
    Rng r;
    rng_init(&r, seed, STREAM_SPLIT, (uint64_t)users, 0);
    for (long i = users - 1; i > 0; i--) {
        long j = (long)(rng_next(&r) % (uint64_t)(i + 1));
        long x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    long held = users >= 3 ? (users + 5) / 10 : 0;
    if (users >= 3 && held < 1) held = 1;
    for (long i = 0; i < users; i++) split_of[perm[i]] = i < held ? 2 : i < 2 * held ? 1 : 0;
    free(perm);
    return RP_OK;
}

int synth_build(const SynthConfig *c, Dataset *d, Error *e) {
    static const char *const SPLITS[3] = {"train", "val", "test"};
    if (c->users < 1 || c->users > SYNTH_MAX_USERS)
        return error_set(e, RP_EINPUT, "--users: %ld is out of range 1..%ld", c->users, SYNTH_MAX_USERS);
    if (c->per_user < 2 || c->per_user > SYNTH_MAX_PER_USER)
        return error_set(e, RP_EINPUT, "--per-user: %ld is out of range 2..%ld (a note's profile is the user's other notes)",
                         c->per_user, SYNTH_MAX_PER_USER);
    int rc = dataset_init(d, "synthetic", e);
    if (rc) return rc;
    char *split_of = xmalloc((size_t)c->users, e);
    StrBuf *notes = xcalloc((size_t)c->per_user, sizeof(StrBuf), e);
    int *topic = xcalloc((size_t)c->per_user, sizeof(int), e);
    if (!split_of || !notes || !topic) rc = RP_ENOMEM;
    if (!rc) rc = split_users(c->seed, c->users, split_of, e);
    for (long k = 0; notes && k < c->per_user; k++) strbuf_init(&notes[k]);
    for (long u = 0; u < c->users && !rc; u++) {
        Traits t;
        traits_draw(c->seed, u, &t);
        for (long k = 0; k < c->per_user && !rc; k++) rc = note_write(c->seed, u, k, &t, &notes[k], &topic[k], e);
        char id[64], user[32], input[96], title[96];
        snprintf(user, sizeof user, "user%ld", u);
        for (long k = 0; k < c->per_user && !rc; k++) {
            snprintf(id, sizeof id, "u%ld-n%ld", u, k);
            snprintf(input, sizeof input, "Write a note about %s.", TOPICS[topic[k]].name);
            rc = dataset_add(d, id, user, SPLITS[(int)split_of[u]], input, notes[k].s, NULL, e);
            for (long j = 0; j < c->per_user && !rc; j++) {
                if (j == k) continue;
                snprintf(title, sizeof title, "A note about %s", TOPICS[topic[j]].name);
                const char *vals[2] = {title, notes[j].s};
                rc = dataset_add_item(d, vals, e);
            }
        }
    }
    for (long k = 0; notes && k < c->per_user; k++) strbuf_free(&notes[k]);
    free(notes);
    free(topic);
    free(split_of);
    if (rc) dataset_free(d);
    return rc;
}

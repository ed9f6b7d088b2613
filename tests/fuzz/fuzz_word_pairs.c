/* tests/fuzz/fuzz_word_pairs.c - data.kind word_pairs: the input is the
 * source sentences, then (after a NUL) the target sentences, one per line. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    uint8_t *src = NULL, *tgt = NULL;
    fz_next_part(data, size, &at, &src);
    fz_next_part(data, size, &at, &tgt);
    const char *sp = fz_write_text("source.txt", (const char *)src);
    const char *tp = fz_write_text("target.txt", (const char *)tgt);
    fz_load_data(fz_config(0, NULL,
        "model: {plugin: nmt_gru}\n"
        "data: {kind: word_pairs, source: '%s', target: '%s', split_seed: 3, train: 2, test: 1,"
        " src_len: 6, tgt_len: 6, lowercase: %s}\n",
        sp, tp, size % 2 ? "true" : "false"));
    free(src);
    free(tgt);
    return 0;
}

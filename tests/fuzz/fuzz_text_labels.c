/* tests/fuzz/fuzz_text_labels.c - data.kind text_labels: the input's first
 * byte picks the tokenizer and vocabulary options, the rest is one file of
 * `text<TAB>label` lines. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *tok[4] = {"words", "chars", "spaces", "words"};
    unsigned o = data[0];
    const char *path = fz_write("labels.txt", data + 1, size - 1);
    fz_load_data(fz_config(0, NULL,
        "model: {plugin: text_attn}\n"
        "data: {kind: text_labels, files: ['%s'], tokenizer: %s, lowercase: %s, min_count: %u,"
        " max_size: %u, split_seed: %u, train: %u, test: %u, src_len: %u}\n",
        path, tok[o & 3], o & 4 ? "true" : "false", 1 + (o >> 3 & 1), o & 16 ? 8 : 0, 1 + (o >> 5 & 1),
        2 + (o >> 6 & 1), 1, 4 + (o >> 7) * 60));
    return 0;
}

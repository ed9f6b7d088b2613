#!/usr/bin/python3
"""tests/fuzz/seeds.py [TRAINER] - writes the committed seed corpus of every
harness under tests/fuzz/corpus/<reader>/: a few small valid inputs of each
reader, and a few broken in the ways the tests know (the fuzzer finds the
rest). With TRAINER (the built trainer), also the checkpoint seed: one step of
the tiny time model the checkpoint harness opens. Needs h5py and numpy."""
import gzip, os, struct, subprocess, sys, tempfile, zlib
import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
def put(reader, name, data):
    d = os.path.join(here, "corpus", reader)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# ---- config: the file, then NUL-separated overrides
put("config", "time", open(os.path.join(here, "../../configs/time.yaml")).read()
    + "\0train.epochs=2\0model.units=7\0model.depth=3")
put("config", "sentiment", open(os.path.join(here, "../../configs/sentiment.yaml")).read() + "\0data.min_count=1")
put("config", "flow", "run: {name: x, seed: 2}\nmodel: {plugin: p, depth: 2, cell: gru, rate: 0.5, masked: no}\n"
    "data: {kind: hdf5, file: f.h5}\ntrain: &t {epochs: 1, batch: 8}\n\0train.lr=1e-3\0model.name=\"a b\"")
put("config", "bad_key", "model:\n  plugin: p\n  depth: 1\ndata:\n  kind: text_labels\n  files: [a, b]\n"
    "  train: 1\n  src_len: 4\ntrain:\n  epoch: 3\n\0train.nonfinite=skip\0train.max_skips=0")

# ---- char_pairs: pairs JSON, NUL, vocabularies JSON
vocabs = '[{"<pad>": 0, "<unk>": 1, " ": 2, "a": 3, "b": 4, "1": 5}, {"<pad>": 0, "0": 1, "1": 2, ":": 3}]'
put("char_pairs", "pairs", '[["ab 1", "01:1"], ["b", "1"], ["A\\u00e9", "0"]]\0' + vocabs)
put("char_pairs", "pairs_only", '[["ab 1", "01:1"], ["b", "1"], ["a a a a a a a a a", "0:0:0"]]')
put("char_pairs", "escapes", '[["a\\"b\\\\", "1"], ["\\t", "0"], ["b", ":"]]\0'
    '[{"<pad>": 0, "\\"": 1, "\\\\": 2, "a": 3, "b": 4, "\\t": 5}, {"<pad>": 0, "0": 1, "1": 2, ":": 3}]')

# ---- word_pairs: source lines, NUL, target lines
put("word_pairs", "three", "i am here .\nyou are there\nhe is\n\0je suis ici .\ntu es là\nil est\n")
put("word_pairs", "crlf", "a b c d e f g h\r\n\r\nx\r\n\0A B\r\nC\r\nD E F G H I J\r\n")

# ---- text_labels: one options byte, then text<TAB>label lines
put("text_labels", "words", b"\x04" + "Great phone, loved it!\t1\nbad \"battery\"\t0\nit's ok...\tpos\n"
    "Works\tgreat\t1\nno\t0\n".encode())
put("text_labels", "chars", b"\x11" + "héllo\tneg\nwörld\tpos\n\tpos\nab\tneg\n".encode())
put("text_labels", "spaces", b"\xe2" + b"a b  c\t0\nd\t1\ne f\t0\n\n")

# ---- idx: one byte (file 0-3, 4: gzip it), then the file
def idx_images(n, rows, cols):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes((37 * i) % 256 for i in range(n * rows * cols))
def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(range(n))
put("idx", "train_images", b"\x04" + idx_images(3, 5, 4))
put("idx", "train_labels_raw", b"\x01" + idx_labels(3))
put("idx", "test_images_raw", b"\x02" + idx_images(2, 5, 4))
put("idx", "test_labels", b"\x07" + idx_labels(2))
put("idx", "train_images_gzip_stream", b"\x00" + gzip.compress(idx_images(3, 5, 4)))

# ---- png: 28x28 images, grey and RGB palette
def png(width, height, color_type, rows, plte=b"", extra=b""):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunk(k, v) for k, v in extra)
            + (chunk(b"PLTE", plte) if plte else b"")
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
put("png", "gray", png(28, 28, 0, [bytes((x * y) % 256 for x in range(28)) for y in range(28)]))
put("png", "palette", png(28, 28, 3, [bytes((x + y) % 4 for x in range(28)) for y in range(28)],
                          plte=bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255])))
put("png", "text_chunks", png(28, 28, 4, [bytes(56)] * 28, extra=[(b"tEXt", b"Comment\0hi"),
    (b"zTXt", b"Comment\0\0" + zlib.compress(bytes(100000))), (b"gAMA", struct.pack(">I", 45455))]))
put("png", "wrong_size", png(4, 3, 0, [bytes(4)] * 3))

# ---- hdf5_data (fuzz_hdf5_data.c): a template byte, then ops on the layout's paths
put("hdf5_data", "labels", b"\x01")
put("hdf5_data", "pairs", b"\x02")
put("hdf5_data", "images", b"\x03")
put("hdf5_data", "labels_train_int8", b"\x15\x00\x04\x01\x02\x01\x02")
put("hdf5_data", "labels_no_classes_split", b"\x39\x29\x05")
# ---- checkpoint (fuzz_checkpoint.c): a resume byte, then ops on the session's own checkpoint
put("checkpoint", "as_saved", b"\x01")
put("checkpoint", "params_only", b"\x00")
for k, ops in enumerate([b"\x01\x02\x05\x07\x03", b"\x01\x03\x11", b"\x01\x04\x21\x8a\x01\x07",
                         b"\x01\x05\x33\x02\xff\xff", b"\x00\x00\x09\x06\x04"]):
    put("checkpoint", f"ops{k}", ops)

# ---- hdf5_data_raw, checkpoint_raw (TR_FUZZ_RAW=1): the files themselves, the layouts of docs/data_hdf5.md, small
def h5(name, build):
    with tempfile.TemporaryDirectory() as t:
        path = os.path.join(t, "f.h5")
        with h5py.File(path, "w", libver="latest") as f:
            build(f)
        put("hdf5_data_raw", name, open(path, "rb").read())
strings = h5py.string_dtype()
def labels(f):
    vocab = ["<pad>", "<unk>", "the", "movie", "is", "good", "bad"]
    f["train/source"] = np.array([[2, 3, 4, 5, 0], [2, 3, 4, 6, 0]], dtype=np.int32)
    f["train/label"] = np.array([1, 0], dtype=np.int32)
    f["test/source"] = np.array([[5, 3, 0, 0, 0]], dtype=np.int32)
    f["test/label"] = np.array([1], dtype=np.int32)
    f["vocab/source"] = np.array(vocab, dtype=strings)
    f["classes"] = np.array(["neg", "pos"], dtype=strings)
def pairs(f):
    f["train/source"] = np.array([[2, 3, 0], [3, 2, 1]], dtype=np.int64)
    f["train/target"] = np.array([[1, 2, 3, 0], [1, 3, 2, 0]], dtype=np.int16)
    f["vocab/source"] = np.array(["<pad>", "<unk>", "a", "b"], dtype=strings)
    f["vocab/target"] = np.array(["<pad>", "<s>", "x", "</s>"], dtype=strings)
def images(f):
    f["train/input"] = np.arange(2 * 1 * 4 * 4, dtype=np.uint8).reshape(2, 1, 4, 4)
    f["train/label"] = np.array([0, 1], dtype=np.int32)
    f["test/input"] = np.zeros((1, 1, 4, 4), dtype=np.uint8)
    f["test/label"] = np.array([1], dtype=np.int32)
    f["classes"] = np.array(["a", "b"], dtype=strings)
def float_images(f):
    images(f)
    del f["train/input"]
    f["train/input"] = np.zeros((2, 1, 4, 4), dtype=np.float32)
h5("labels", labels)
h5("pairs", pairs)
h5("images", images)
h5("float_images", float_images)

# ---- checkpoint: one step of the harness's tiny time model (fuzz_checkpoint.c)
if len(sys.argv) > 1:
    with tempfile.TemporaryDirectory() as t:
        open(os.path.join(t, "pairs.json"), "w").write('[["ab 1", "01:1"], ["b", "1"], ["a", "0"]]')
        open(os.path.join(t, "vocabs.json"), "w").write(vocabs)
        for name, extra in [("tiny", []), ("tiny_sgd", ["train.optimizer=sgd"])]:
            subprocess.run([sys.argv[1], os.path.join(here, "../../configs/time.yaml"), f"run.out={t}/{name}", "run.seed=1", "model.plugin=time_attn",
                            "model.encoder_units=2", "model.decoder_units=2", "model.attention_units=1",
                            "data.kind=char_pairs", f"data.pairs={t}/pairs.json", f"data.vocabs={t}/vocabs.json",
                            "data.train=2", "data.test=1", "data.src_len=8", "data.tgt_len=4",
                            "train.epochs=1", "train.batch=2"] + extra, check=True, stdout=subprocess.DEVNULL)
            put("checkpoint_raw", name, open(f"{t}/{name}/checkpoint.h5", "rb").read())

#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus, tests/fuzz/corpus/<reader>/, a few valid and edge files per reader (numpy,
scipy and zlib). The first byte of an npz/sparse/idx/csv seed selects the harness's mode (see fuzz_*.cpp)."""
import gzip
import io
import os
import struct
import zipfile

import numpy as np
import scipy.sparse as sp

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def out(reader, name, data):
    d = os.path.join(root, reader)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def members(ms, deflate=False):
    """The harness's member list: [flags][name length][name][length, 2 bytes LE][data]."""
    s = b"\x01"
    for name, data in ms:
        n = name.encode()
        s += bytes([1 if deflate else 0, len(n)]) + n + struct.pack("<H", len(data)) + data
    return s


def npz(save, **arrays):
    b = io.BytesIO()
    save(b, **arrays)
    return b.getvalue()


rng = np.random.default_rng(0)
x = rng.standard_normal((4, 3))
# npy
out("npy", "f64", npy(x))
out("npy", "f32_fortran", npy(np.asfortranarray(x.astype(np.float32))))
out("npy", "u8_3d", npy(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)))
out("npy", "i64_labels", npy(np.array([0, 1, 2, 1], dtype=np.int64)))
out("npy", "be_i32", npy(np.array([[1, -2], [3, 4]], dtype=">i4")))
out("npy", "bool", npy(np.array([True, False])))
out("npy", "u64", npy(np.array([1, 2**63], dtype=np.uint64)))
out("npy", "scalar", npy(np.float64(3.5)))
out("npy", "empty", npy(np.zeros((0, 3))))
v2 = bytearray(npy(x))
out("npy", "v2", b"\x93NUMPY\x02\x00" + struct.pack("<I", struct.unpack("<H", bytes(v2[8:10]))[0]) + bytes(v2[10:]))
# npz: raw archives (first byte 0) and member lists (first byte 1)
out("npz", "savez", b"\x00" + npz(np.savez, x=x, y=np.arange(4)))
out("npz", "savez_compressed", b"\x00" + npz(np.savez_compressed, x=x.astype(np.float32)))
out("npz", "members", members([("a.npy", npy(x)), ("b.npy", npy(np.arange(3, dtype=np.int16)))]))
out("npz", "members_deflate", members([("a.npy", npy(x.astype(np.float32)))], deflate=True))
# sparse: scipy.sparse.save_npz of CSR, CSC and COO, raw and as member lists
m = sp.random(6, 5, density=0.4, random_state=1, format="csr")
for fmt in ("csr", "csc", "coo"):
    a = m.asformat(fmt)
    out("sparse", fmt + "_raw", b"\x00" + npz(lambda f, **k: sp.save_npz(f, a, compressed=(fmt == "csr"))))
    with zipfile.ZipFile(io.BytesIO(npz(lambda f, **k: sp.save_npz(f, a, compressed=False)))) as z:
        out("sparse", fmt + "_members", members([(n, z.read(n)) for n in z.namelist()]))
# csv: first byte = extension (bits 0-1: csv, tsv, txt, none) and header option (bits 2-3)
out("csv", "plain", b"\x00" + b"1,2,3\n4.5,-6e3,7\n")
out("csv", "header", b"\x00" + b"a,b,c\n1,2,3\n4,5,6\n")
out("csv", "tsv", b"\x01" + b"1\t2\n3\t4\n")
out("csv", "txt_comments", b"\x02" + b"# c\n1 2  3\n 4 5 6 # x\n")
out("csv", "quoted_labels", b"\x03" + b'label\n"a"\n"b ""q"""\nc\n')
out("csv", "int_labels", b"\x00" + b"3\n1\n2\n")
out("csv", "crlf_bom", b"\x00" + b"\xef\xbb\xbf1;2\r\n3;4\r\n")
out("csv", "bad", b"\x00" + b"1,2\n3\n1e400,nan\n")
# idx: first byte 0 = as is, 1 = gzip-compressed by the harness
def idx(code, dims, data_be):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data_be


img = idx(0x08, [3, 2, 2], bytes(range(12)))
out("idx", "u8_images", b"\x00" + img)
out("idx", "u8_images_gz", b"\x01" + img)
out("idx", "gzip_stream", b"\x00" + gzip.compress(img, mtime=0))
out("idx", "labels", b"\x00" + idx(0x08, [4], bytes([0, 1, 2, 1])))
out("idx", "f32", b"\x00" + idx(0x0D, [2, 2], np.arange(4, dtype=">f4").tobytes()))
out("idx", "f64", b"\x01" + idx(0x0E, [1, 3], np.arange(3, dtype=">f8").tobytes()))
out("idx", "i16", b"\x00" + idx(0x0B, [2], np.array([-1, 2], dtype=">i2").tobytes()))
out("idx", "truncated", b"\x00" + idx(0x08, [46341, 46341], bytes(96)))
# model: the files of a model directory as a member list (fuzz_model.cpp), for 3-column data: the CLI's earlier
# t-SNE format (model) and the current one (model_v1: tsne, umap, cne)


def model(pca, n=10, extra=None):
    j = {"format": "nembed-tsne-model", "version": 1, "n_points": n, "n_components": 2, "metric": "euclidean",
         "scale": 1.0, "pca": pca, "dof": 1.0, "negative_gradient_method": "fft", "theta": 0.5,
         "n_interpolation_points": 3, "min_num_intervals": 50, "ints_in_interval": 1.0}
    j.update(extra or {})
    import json
    files = [("model.json", json.dumps(j).encode()),
             ("embedding.npy", npy(rng.standard_normal((n, 2)))),
             ("reference_data.npy", npy(rng.standard_normal((n, 2 if pca else 3)).astype(np.float32)))]
    if pca:
        files += [("pca_mean.npy", npy(rng.standard_normal((1, 3)))), ("pca_components.npy", npy(rng.standard_normal((2, 3))))]
    return members(files)[1:]  # no mode byte: the model harness has one form only


out("model", "plain", model(False))
out("model", "pca", model(True))
out("model", "bh", model(False, extra={"negative_gradient_method": "bh", "metric": "cosine"}))
out("model", "exact_dof", model(True, extra={"negative_gradient_method": "exact", "dof": 0.5}))


def model_v1(method, pca, n=10, extra=None):
    import json
    d = 2 if pca else 3
    j = {"format": "nembed-model", "version": 1, "method": method, "n_points": n, "n_components": 2,
         "n_features": None if method == "cne" else d, "preprocessing": {"scale": 1.0, "pca": pca}}
    if method == "tsne":
        j["metric"] = "euclidean"
        j["tsne"] = {"dof": 1.0, "negative_gradient_method": "fft", "theta": 0.5, "n_interpolation_points": 3,
                     "min_num_intervals": 50, "ints_in_interval": 1.0}
    elif method == "umap":
        j["metric"] = "euclidean"
        j["umap"] = {"n_neighbors": 5, "local_connectivity": 1.0, "a": 1.58, "b": 0.9, "n_epochs": 30,
                     "requested_epochs": None, "learning_rate": 1.0, "repulsion_strength": 1.0,
                     "negative_sample_rate": 5.0, "transform_seed": 42}
    else:
        j["cne"] = {"loss_mode": "infonce", "similarity": "euclidean", "k": 15, "negative_samples": 5,
                    "batch_size": 1024, "n_epochs": 5, "epochs_run": 5, "learning_rate": 1.0, "temperature": 0.5,
                    "eps": 1.0, "spec": 1.0, "spec_early": 4.0, "early_epochs": 1, "log_Z": 0.0, "seed": 0}
    j.update(extra or {})
    files = [("model.json", json.dumps(j).encode()), ("embedding.npy", npy(rng.standard_normal((n, 2))))]
    if method != "cne":
        files.append(("reference_data.npy", npy(rng.standard_normal((n, d)).astype(np.float32))))
    if pca:
        files += [("pca_mean.npy", npy(rng.standard_normal(3))), ("pca_components.npy", npy(rng.standard_normal((2, 3))))]
    return members(files)[1:]


out("model", "v1_tsne", model_v1("tsne", False))
out("model", "v1_tsne_pca", model_v1("tsne", True))
out("model", "v1_umap", model_v1("umap", True))
out("model", "v1_cne", model_v1("cne", False))

# AnnData: the committed fixtures (written with anndata and h5py by tests/data/make_h5ad_fixtures.py) as they are.
data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
for name in ("h5ad_tiny", "h5ad_old"):
    with open(os.path.join(data_dir, name + ".h5ad"), "rb") as f:
        out("h5ad", name, f.read())

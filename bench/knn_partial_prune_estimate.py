"""How many register tiles of the exact kNN self-search could stop after m dimensions (issue #21, k28).

The self-search (src/neighbors/exact.cpp, docs/neighbors.md §2) scores pairs of 256-point blocks in tiles of 8 rows x
32 columns (AVX-512), each block against itself first, then the pairs of a round-robin tournament. A tile could stop
after its first m dimensions (by decreasing variance) if a lower bound of every key it holds already exceeds both
sides' thresholds (the rows' and, transposed, the columns' current worst kept keys). Lower bounds of
|w_q - w_j|^2 from the first m dimensions:

  head: sum_{d<m} (w_qd - w_jd)^2
  cs:   head + (|t_q| - |t_j|)^2, t the rest of the vector (Cauchy-Schwarz on the tail's cross term)

This replays the search in float64 on the mapped data (SearchTransform: centred, a power-of-two scale), with the
same k-d blocks and the same tournament, keeping each row's n_cand = k + 8 smallest keys after every round. The
threshold a tile sees is taken at the start of its round (the code's lags behind the running one by up to n_cand
offers, and gains within a round: an estimate). Also with the final thresholds (an upper bound on what can clear).

Orders within a block: "today" (the k-d split stops at 256-point blocks; within a block the order nth_element left,
approximated here by a random order) and "kd8" (the same split continued inside each block down to 8 points, so a
row tile of 8 and a column tile of 32 are compact subtrees).

  python3 bench/knn_partial_prune_estimate.py out/fmnist_pca50.npy -k 15 [--n 70000] [--sample 0.1]
"""
import argparse
import sys
import time

import numpy as np

BLOCK, RT, CT = 256, 8, 32


def transform(x):
    x = x.astype(np.float32)
    m = x.astype(np.float64).mean(axis=0)
    largest = np.abs(x.astype(np.float64) - m).max()
    s = 2.0 ** (-np.floor(np.log2(largest)))
    return ((x.astype(np.float64) - m) * s).astype(np.float32)


def locality_order(w, leaf_inner):
    n = w.shape[0]
    order = np.arange(n)

    def split(lo, hi, unit):
        if hi - lo <= unit:
            return
        if hi - lo <= BLOCK and unit == BLOCK:
            return
        sub = w[order[lo:hi]]
        widest = int(np.argmax(sub.max(axis=0) - sub.min(axis=0)))
        u = BLOCK if hi - lo > BLOCK else unit
        blocks = (hi - lo + u - 1) // u
        mid = lo + (blocks // 2) * u
        idx = order[lo:hi]
        srt = idx[np.lexsort((idx, w[idx, widest]))]
        order[lo:hi] = srt
        split(lo, mid, unit)
        split(mid, hi, unit)

    sys.setrecursionlimit(100000)
    split(0, n, leaf_inner)
    return order


def block_rounds(nb):
    rounds = []
    m = nb + nb % 2
    for r in range(m - 1):
        rnd = []

        def add(a, b):
            if a < nb and b < nb:
                rnd.append((min(a, b), max(a, b)))

        add(r, m - 1)
        for k in range(1, m // 2):
            add((r + k) % (m - 1), (r + (m - 1) - k) % (m - 1))
        if rnd:
            rounds.append(rnd)
    return rounds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("-k", type=int, default=15)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--ms", default="4,8,12,16,24")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample", type=float, default=1.0, help="share of each round's pairs whose tiles are counted")
    a = ap.parse_args()
    x = np.load(a.file)
    if a.n:
        x = x[: a.n]
    w0 = transform(x)
    var = w0.astype(np.float64).var(axis=0)
    perm = np.argsort(-var, kind="stable")
    print(f"{w0.shape}, k = {a.k}; variance order is identity: {bool((perm == np.arange(len(perm))).all())}; "
          f"share of the variance in the first 8 / 16 dims: {var[perm][:8].sum() / var.sum():.3f} / "
          f"{var[perm][:16].sum() / var.sum():.3f}")
    ms = [int(v) for v in a.ms.split(",")]
    n, D = w0.shape
    n_cand = min(a.k + 8, n - 1)
    rng = np.random.default_rng(a.seed)
    for variant in ("today", "kd8"):
        t0 = time.time()
        order = locality_order(w0, BLOCK if variant == "today" else RT)
        if variant == "today":  # within a block: an arbitrary order
            for b in range(0, n, BLOCK):
                order[b : b + BLOCK] = rng.permutation(order[b : b + BLOCK])
        nb = (n + BLOCK - 1) // BLOCK
        npad = nb * BLOCK
        W = np.zeros((npad, D), np.float64)
        W[:n] = w0[order][:, perm]
        pad = np.zeros(npad, bool)
        pad[n:] = True
        sq = (W * W).sum(1)
        head_sq = {m: (W[:, :m] ** 2).sum(1) for m in ms}
        tail_n = {m: np.sqrt(np.maximum(sq - head_sq[m], 0.0)) for m in ms}
        kept = np.full((npad, n_cand), np.inf)
        Wb = W.reshape(nb, BLOCK, D)
        sqb, padb = sq.reshape(nb, BLOCK), pad.reshape(nb, BLOCK)
        hb = {m: head_sq[m].reshape(nb, BLOCK) for m in ms}
        tb = {m: tail_n[m].reshape(nb, BLOCK) for m in ms}
        keptb = kept.reshape(nb, BLOCK, n_cand)

        def keys_of(I, J, m=None):  # I, J: arrays of block numbers; keys (P, 256, 256)
            if m is None:
                K = sqb[I][:, :, None] + sqb[J][:, None, :] - 2 * np.matmul(Wb[I], Wb[J].transpose(0, 2, 1))
            else:
                K = (hb[m][I][:, :, None] + hb[m][J][:, None, :]
                     - 2 * np.matmul(Wb[I][:, :, :m], Wb[J][:, :, :m].transpose(0, 2, 1)))
            K = np.maximum(K, 0.0)
            K[padb[I][:, :, None] | padb[J][:, None, :]] = np.inf
            return K

        def merge(blocks, newk):  # newk (P, 256, 256): new keys of the rows of `blocks`
            allk = np.concatenate([keptb[blocks], newk], axis=2)
            keptb[blocks] = np.partition(allk, n_cand - 1, axis=2)[:, :, :n_cand]

        def count(I, J, thv, out):
            need = np.maximum(thv.reshape(nb, BLOCK)[I][:, :, None], thv.reshape(nb, BLOCK)[J][:, None, :])
            for m in ms:
                H = keys_of(I, J, m)
                CS = H + (tb[m][I][:, :, None] - tb[m][J][:, None, :]) ** 2
                for kind, LB in (("head", H), ("cs", CS)):
                    ok = (LB > need).reshape(len(I), BLOCK // RT, RT, BLOCK // CT, CT).all(axis=(2, 4))
                    out[(kind, m)] += int(ok.sum())

        # the diagonal round: each block against itself (no pruning counted: thresholds are +inf at its start)
        for b0 in range(0, nb, 64):
            I = np.arange(b0, min(nb, b0 + 64))
            K = keys_of(I, I)
            K[:, np.arange(BLOCK), np.arange(BLOCK)] = np.inf
            merge(I, K)
        th = kept.max(1)
        th[pad] = -np.inf
        rounds = block_rounds(nb)
        tiles = 0
        clear = {(kind, m): 0 for kind in ("head", "cs") for m in ms}
        final = {(kind, m): 0 for kind in ("head", "cs") for m in ms}
        per_round, sampled = [], []
        for ri, rnd in enumerate(rounds):
            I = np.array([p[0] for p in rnd])
            J = np.array([p[1] for p in rnd])
            before = clear[("cs", 16)] if 16 in ms else 0
            pick = rng.random(len(rnd)) < a.sample
            sampled.append(pick)
            count(I[pick], J[pick], th, clear)
            tiles += int(pick.sum()) * (BLOCK // RT) * (BLOCK // CT)
            K = keys_of(I, J)
            merge(I, K)
            merge(J, K.transpose(0, 2, 1))
            th = kept.max(1)
            th[pad] = -np.inf
            per_round.append(((clear[("cs", 16)] if 16 in ms else 0) - before) /
                             max(1, int(pick.sum()) * (BLOCK // RT) * (BLOCK // CT)))
            if ri % 40 == 0:
                print(f"  [{variant}] round {ri}/{len(rounds)} ({time.time() - t0:.0f} s): cs m=16 cleared "
                      f"{per_round[-1]:.3f} of this round's tiles", flush=True)
        # the same tiles against the final thresholds (an upper bound)
        for rnd, pick in zip(rounds, sampled):
            count(np.array([p[0] for p in rnd])[pick], np.array([p[1] for p in rnd])[pick], th, final)
        q = np.array(per_round)
        print(f"[{variant}] k = {a.k}: {tiles} off-diagonal tiles counted ({a.sample:g} of the pairs); "
              f"{time.time() - t0:.0f} s")
        print(f"  cs m=16 cleared by round: first 10 % {q[: len(q) // 10].mean():.3f}, "
              f"middle {q[len(q) // 10 : -len(q) // 10].mean():.3f}, last 10 % {q[-len(q) // 10 :].mean():.3f}")
        for m in ms:
            line = f"  m = {m:2d}:"
            for kind in ("head", "cs"):
                f_run, f_fin = clear[(kind, m)] / tiles, final[(kind, m)] / tiles
                # FMA work relative to today's full tile (D dims), the check itself not counted
                work = (m + (1 - f_run) * (D - m)) / D
                line += f"  {kind}: cleared {f_run:.3f} (final thresholds {f_fin:.3f}), FMA work {work:.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()

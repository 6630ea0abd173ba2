"""Reference numbers from TorchDR 0.5 for tests/hyperbolic (COSNE, TSNEkhorn, RiemannianAdam).

Run with a Python that has torch and torchdr 0.5:  python make_hyperbolic_fixture.py
Writes hyperbolic_fixture.npz next to this script. Everything is float64 and computed by TorchDR's own code:
the COSNE and TSNEkhorn loss methods on hand-set state, RiemannianAdam's step on a ManifoldParameter.
"""
import os
import numpy as np
import torch
from torchdr import COSNE, TSNEkhorn
from torchdr.utils import RiemannianAdam, ManifoldParameter, PoincareBallManifold

torch.manual_seed(0)
rng = np.random.default_rng(0)
out = {}
pb = PoincareBallManifold()

# --- COSNE: loss and autograd gradient at a point set in the ball, kNN affinity (rows sum to 1/n) ---
n, k, d = 12, 4, 2
X = rng.normal(size=(n, 3)) * 0.7
Z0 = pb.expmap0(torch.tensor(rng.normal(size=(n, d)) * 0.8), c=1).numpy()
Z0[0] *= 0.999995 / np.linalg.norm(Z0[0])  # one point close to the boundary
nn = np.stack([rng.choice([j for j in range(n) if j != i], size=k, replace=False) for i in range(n)])
Pv = rng.uniform(0.1, 1.0, size=(n, k))
Pv = Pv / Pv.sum(1, keepdims=True) / n
for ex in (1.0, 3.0):
    m = COSNE(perplexity=3, gamma=2.0, learning_rate_for_h_loss=0.7, repulsion_strength=1.3)
    emb = torch.tensor(Z0, requires_grad=True)
    m.embedding_ = emb
    m.chunk_indices_ = torch.arange(n)
    m.NN_indices_ = torch.tensor(nn)
    m.affinity_in_ = torch.tensor(Pv)
    m.X_norm = (torch.tensor(X) ** 2).sum(-1)
    m.early_exaggeration_coeff_ = ex
    loss = m._compute_loss()
    loss.backward()
    out[f"cosne_loss_ex{int(ex)}"] = np.array(loss.item())
    out[f"cosne_grad_ex{int(ex)}"] = emb.grad.numpy()
out.update(cosne_X=X, cosne_Z=Z0, cosne_nn=nn.astype(np.int64), cosne_P=Pv)

# --- RiemannianAdam: three steps with fixed Euclidean gradients ---
Zr = pb.expmap0(torch.tensor(rng.normal(size=(5, 2)) * 0.9), c=1)
G = [rng.normal(size=(5, 2)) for _ in range(3)]
p = ManifoldParameter(Zr.clone(), requires_grad=True, manifold=pb, c=1)
opt = RiemannianAdam([p], lr=0.05)
traj = []
for g in G:
    opt.zero_grad()
    (p * torch.tensor(g)).sum().backward()
    opt.step()
    traj.append(p.detach().numpy().copy())
out.update(radam_Z0=Zr.numpy(), radam_G=np.stack(G), radam_traj=np.stack(traj))

# --- TSNEkhorn: two evaluations (warm-started duals), dense symmetric P with its diagonal ---
n2 = 10
Zt = rng.normal(size=(n2, 2))
A = rng.uniform(0, 1, size=(n2, n2))
Pt = (A + A.T) / (A + A.T).sum()
m = TSNEkhorn(perplexity=3)
emb = torch.tensor(Zt, requires_grad=True)
m.embedding_ = emb
m.affinity_in_ = torch.tensor(Pt)
for t in range(2):
    emb.grad = None
    loss = m._compute_loss()
    loss.backward()
    out[f"tsnekhorn_loss{t}"] = np.array(loss.item())
    out[f"tsnekhorn_grad{t}"] = emb.grad.numpy().copy()
    out[f"tsnekhorn_dual{t}"] = m.dual_sinkhorn_.numpy().copy()
out.update(tsnekhorn_Z=Zt, tsnekhorn_P=Pt)

np.savez(os.path.join(os.path.dirname(os.path.abspath(__file__)), "hyperbolic_fixture.npz"), **out)
print({k: v.shape for k, v in out.items()})

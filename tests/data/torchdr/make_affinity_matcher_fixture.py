"""TorchDR 0.5 AffinityMatcher reference for python/tests/test_torchdr_affinity_matcher.py: 20 SGD steps from a given
init on a precomputed P, for each loss_fn and three output affinities. Run with a Python that has torchdr 0.5."""
import os

import numpy as np, torch, torchdr
rng=np.random.default_rng(0); n=30
X=rng.normal(size=(n,4)); P=np.abs(rng.normal(size=(n,n))); np.fill_diagonal(P,0); P/=P.sum()
init=rng.normal(size=(n,2))
out={}
for loss in ["square_loss","cross_entropy_loss"]:
  for name,aff in [("g",lambda: torchdr.NormalizedGaussianAffinity()),("s",lambda: torchdr.NormalizedStudentAffinity(normalization_dim=1)),("k",lambda: torchdr.SinkhornAffinity(base_kernel="student"))]:
    m=torchdr.AffinityMatcher("precomputed",aff(),loss_fn=loss,optimizer="SGD",lr=0.5 if loss=="cross_entropy_loss" else 50.0,max_iter=20,init=init,init_scaling=1.0,min_grad_norm=0)
    Z=m.fit_transform(torch.tensor(P)); out[loss+name]=Z.detach().numpy()
np.savez(os.path.join(os.path.dirname(os.path.abspath(__file__)), "affinity_matcher.npz"),P=P,init=init,**out)

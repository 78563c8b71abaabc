"""The CNN reference case of ``python -m benchmarks.cnn``: its loss, training settings and sizes, and the trained
model with its batches, cached in benchmarks/.cache/ so that no row pays for training or for ``data.mnist``."""
from __future__ import annotations

import hashlib
import json

import torch

import rashomon_widgets as rw

from . import timing
from .cases import CACHE
from .timing import log

LOSS = torch.nn.CrossEntropyLoss()  # the same loss module for every library (curvlinops reads .reduction)
TRAIN = {"epochs": 3, "batch_size": 100, "lr": 1e-3, "seed": 0}
# density_iter: PyHessian's density() steps; its default 100 on cnn1.2m, where every product re-runs the forward
# and backward of 4 batches, would outrun the default time limit, so it gets 40 there
CASES = {
    "cnn596k": {"channels": (16, 32), "images": 1000, "batch": 1000, "density_iter": 100},
    "cnn1.2m": {"channels": (32, 64), "images": 2000, "batch": 500, "density_iter": 40},
    "tiny": {"channels": (2, 4), "images": 200, "batch": 200, "density_iter": 100},
}


def prepare(case: str, seed: int = 0) -> dict:
    """Train the case's CNN once (cached): its weights, the images the libraries see and its accuracies
    (``seed``: of the initialisation and the batches; the curve explorer's second model has seed 1)."""
    cfg, train = CASES[case], {**TRAIN, "seed": seed}
    # the cache key: what training uses
    spec = json.dumps([cfg["channels"], cfg["images"], train, torch.__version__, timing.DEVICE.type])
    path = CACHE / f"cnn-{case}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    log(f"[{case}] training mnist_cnn({cfg['channels']}) on {cfg['images']} images ...")
    split = rw.data.mnist(cfg["images"], 1000, seed=0)
    model = rw.models.mnist_cnn(cfg["channels"], seed=seed).to(timing.DEVICE)
    (X, y), (Xt, yt) = [(a.to(timing.DEVICE), b.to(timing.DEVICE)) for a, b in split]
    rw.models.train(model, LOSS, (X, y), **train)
    with torch.no_grad():
        acc = [rw.models.accuracy(model(a), b) for a, b in ((X, y), (Xt, yt))]
    saved = {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "X": X.cpu(), "y": y.cpu(),
             "train_accuracy": acc[0], "test_accuracy": acc[1]}
    CACHE.mkdir(exist_ok=True)
    torch.save(saved, path.with_suffix(".pt.tmp"))
    path.with_suffix(".pt.tmp").replace(path)
    return saved


def load(case: str, seed: int = 0):
    """The trained model (evaluation mode) and its data as a list of batches, on ``timing.DEVICE``."""
    saved, cfg = prepare(case, seed), CASES[case]
    model = rw.models.mnist_cnn(cfg["channels"], seed=seed)
    model.load_state_dict(saved["state"])
    model.eval().to(timing.DEVICE)
    return model, rw.data.batches(saved["X"].to(timing.DEVICE), saved["y"].to(timing.DEVICE), cfg["batch"])

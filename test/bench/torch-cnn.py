"""PyTorch peer for `npm run bench -- cnn`: forward and backward time of one gradient of a LeNet-5-sized CNN.

Usage: python3 test/bench/torch-cnn.py '{"batch": 64, "threads": [1, 2], "runs": 30}'
Prints one JSON object: {"torch": version, "savedBytes": n, "results": [{"threads", "forwardMs",
"backwardMs", "totalMs"}]} (medians over `runs` after warm-up). savedBytes: the bytes of the distinct
tensors autograd keeps for the backward pass (saved_tensors_hooks), other than the parameters and the input
batch. Same model, shapes and loss as the engine's in test/bench/cnn.ts.
"""
import json
import sys

import torch
from torch import nn

from torch_timing import time_gradients

cfg = json.loads(sys.argv[1])
batch, runs = cfg["batch"], cfg.get("runs", 30)
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
)
x = torch.randn(batch, 1, 28, 28)
t = torch.randint(0, 10, (batch,))
loss_fn = nn.CrossEntropyLoss()

leaves = {p.data_ptr() for p in model.parameters()} | {x.data_ptr()}
saved = {}


def keep(tensor):
    if tensor.data_ptr() not in leaves:
        saved[tensor.data_ptr()] = max(saved.get(tensor.data_ptr(), 0), tensor.numel() * tensor.element_size())
    return tensor


with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
    loss_fn(model(x), t).backward()
saved_bytes = sum(saved.values())

results = time_gradients(model, lambda: loss_fn(model(x), t), cfg.get("threads", [1, 2]), runs)
print(json.dumps({"torch": torch.__version__, "savedBytes": saved_bytes, "results": results}))

"""PyTorch peer for `npm run bench`: forward and backward time of one gradient of an MLP.

Usage: python3 test/bench/torch-mlp.py '{"batch": 256, "sizes": [784, 512, 512, 10], "threads": [1, 2], "runs": 30}'
Prints one JSON object: {"torch": version, "results": [{"threads", "forwardMs", "backwardMs", "totalMs"}]}
(medians over `runs` after warm-up). Same model, data shapes and loss as the service's large-model scenario.
"""
import json
import sys

import torch
from torch_timing import time_gradients

cfg = json.loads(sys.argv[1])
sizes, batch, runs = cfg["sizes"], cfg["batch"], cfg.get("runs", 30)
torch.manual_seed(0)
layers = []
for i in range(len(sizes) - 1):
    layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
    if i < len(sizes) - 2:
        layers.append(torch.nn.ReLU())
model = torch.nn.Sequential(*layers)
x = torch.randn(batch, sizes[0])
t = torch.randint(0, sizes[-1], (batch,))
loss_fn = torch.nn.CrossEntropyLoss()

results = time_gradients(model, lambda: loss_fn(model(x), t), cfg.get("threads", [1, 2]), runs)
print(json.dumps({"torch": torch.__version__, "results": results}))

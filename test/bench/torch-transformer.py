"""PyTorch peer for `npm run bench`: forward and backward time of one gradient of the one-block transformer.

Usage: python3 test/bench/torch-transformer.py '{"batch": 16, "seq": 64, "d": 128, "heads": 4, "hidden": 512,
       "vocab": 256, "threads": [1, 2], "runs": 30}'
Prints one JSON object: {"torch": version, "results": [{"threads", "forwardMs", "backwardMs", "totalMs"}],
"savedBytes": ...} (medians over `runs` after warm-up). The same model as test/bench/transformer-model.ts:
torch 1.13 has no F.scaled_dot_product_attention, so attention is written as a torch 1.13 user writes it
(matmul, masked_fill, softmax, matmul). `savedBytes` is what autograd keeps for the backward pass: the
distinct storages of the saved tensors that are neither parameters nor the inputs.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch_timing import time_gradients

cfg = json.loads(sys.argv[1])
B, T, D, H, HID, V = cfg["batch"], cfg["seq"], cfg["d"], cfg["heads"], cfg["hidden"], cfg["vocab"]
runs = cfg.get("runs", 30)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.pos = nn.Embedding(V, D), nn.Parameter(torch.randn(T, D))
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.proj = (nn.Linear(D, D) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(D, HID), nn.Linear(HID, D)
        self.head = nn.Linear(D, V)
        self.register_buffer("causal", torch.ones(T, T, dtype=torch.bool).tril())

    def forward(self, tokens, c):
        x = self.embed(tokens) + self.pos
        h = self.ln1(x)
        q, k, v = (f(h).reshape(B, T, H, D // H).transpose(1, 2) for f in (self.q, self.k, self.v))
        s = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
        a = torch.softmax(s.masked_fill(~self.causal, float("-inf")), dim=-1) @ v
        r1 = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
        r2 = r1 + self.fc2(F.gelu(self.fc1(self.ln2(r1))))
        return F.cross_entropy(self.head(r2).reshape(B * T, V), c)


model = Block()
tokens = torch.randint(0, V, (B, T))
c = torch.cat([tokens[:, 1:], torch.full((B, 1), -100)], dim=1).reshape(-1)  # the next ids; none after the last

results = time_gradients(model, lambda: model(tokens, c), cfg.get("threads", [1, 2]), runs)

own = {p.data_ptr() for p in model.parameters()} | {tokens.data_ptr(), c.data_ptr()}
saved = {}


def pack(t):
    ptr = t.storage().data_ptr()
    if ptr not in own:
        saved[ptr] = t.storage().nbytes()
    return t


with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
    model(tokens, c).backward()
print(json.dumps({"torch": torch.__version__, "results": results, "savedBytes": sum(saved.values())}))

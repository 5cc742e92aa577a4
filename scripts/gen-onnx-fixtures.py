#!/usr/bin/env python3
"""Writes test/fixtures/onnx/: models exported by torch.onnx.export (<name>.onnx) and, beside each,
<name>.json with a batch, targets, the loss and PyTorch's loss and gradients for every parameter, in
float64 and float32, for test/wire/onnx.test.ts to replay without PyTorch.

Run with a Python that has torch and onnx (Debian: python3-torch, python3-onnx; /usr/bin/python3):
    /usr/bin/python3 scripts/gen-onnx-fixtures.py

Each model is exported in float32 with `dynamic_axes` on the batch dimension. The float64 reference
runs the same module in float64 on the very float32 weights the file holds (widened exactly), so the
service's float64 import of the file computes the same function. Parameter names are the module's
named_parameters(), which torch.onnx.export keeps as the initializers' names.
"""
import base64
import json
import os

import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'onnx')
OPSET = 17  # the newest torch 1.13 exports; the service takes 13-18


class Mlp(nn.Module):
    """Gemm, Tanh, the Erf form of GELU, LayerNormalization, Sigmoid, LeakyRelu, Softplus, Elu, Selu, Concat."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.norm = nn.LayerNorm(8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.tanh(self.fc1(x))
        h = F.gelu(self.norm(h))
        g = self.fc2(h)
        a = torch.sigmoid(g) * F.leaky_relu(g, 0.1)
        b = F.softplus(g) + F.elu(g) - F.selu(g)
        return self.fc3(torch.cat([a, b], dim=1))


def f32(v):
    return float(torch.tensor(v, dtype=torch.float32))


GELU_A, GELU_B, HALF = f32(0.044715), f32((2.0 / torch.pi) ** 0.5), f32(0.5)


def gelu_tanh(x):
    """F.gelu(x, approximate='tanh') as torch.onnx.export writes it (Pow, Mul, Add, Tanh), with its
    constants rounded to float32 as the file stores them, so the float64 reference computes the file's
    function (with torch's float64 constants the float64 gradients differ by about 1e-6 relative)."""
    return HALF * x * (1.0 + torch.tanh(GELU_B * (x + GELU_A * x.pow(3))))


class Block(nn.Module):
    """MatMul on a 3-D batch, the tanh GELU, Softmax, Transpose, Reshape, Slice, ReduceMean, Sqrt, Div, Pow."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.out = nn.Linear(8, 2)

    def forward(self, x):  # x: [batch, 3, 4]
        h = gelu_tanh(self.proj(x))
        scores = torch.softmax(h @ h.transpose(1, 2) / 2.0, dim=-1)
        mixed = scores @ h
        centred = mixed - mixed.mean(dim=-1, keepdim=True)
        scaled = centred / torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + 2.0 ** -16)
        flat = scaled[:, 1:, :].reshape(x.shape[0], -1)
        return torch.log_softmax(self.out(flat), dim=-1)


def file_gradients(path, module):
    """Each float initializer's gradient under its name in the file. torch.onnx.export keeps a parameter's
    name, except for a weight it stores transposed for a MatMul (nn.Linear on a 3-D batch), which it
    names onnx::MatMul_<n>: that one is found by its value, and its gradient transposed."""
    params = dict(module.named_parameters())
    buffers = dict(module.named_buffers())  # BatchNorm's running statistics: constants, not params
    out = {}
    for init in onnx.load(path).graph.initializer:
        if init.name in buffers:
            continue
        value = torch.from_numpy(onnx.numpy_helper.to_array(init).copy()).to(torch.float64)
        if init.name in params:
            out[init.name] = params[init.name].grad
            continue
        match = [p for p in params.values() if p.dim() == 2 and p.t().shape == value.shape
                 and torch.equal(p.detach().t().to(torch.float32).to(torch.float64), value)]
        if len(match) != 1:
            raise SystemExit(f'{path}: no parameter for initializer {init.name}')
        out[init.name] = match[0].grad.t()
    return out


class Norm(nn.Module):
    """BatchNormalization (running statistics set, both semantics), Relu, Unsqueeze, ReduceSum, ReduceMax,
    Squeeze, Flatten, Exp, Log, Abs, Neg, Softmax on [batch, features] data."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 6)
        self.bn = nn.BatchNorm1d(6)
        self.head = nn.Linear(6, 2)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x):  # x: [batch, 5]
        h = torch.relu(self.bn(self.fc(x))).unsqueeze(1)   # [batch, 1, 6]
        s = h.sum(dim=1) + torch.log(torch.exp(-h.abs()) + 1.0).sum(dim=1)
        m = h.amax(dim=-1, keepdim=True).squeeze(1)        # [batch, 1]
        y = self.head(torch.flatten(torch.softmax(s, dim=-1).unsqueeze(2), 1) - m)
        return -y


class FreshNorm(nn.Module):
    """A BatchNorm as constructed (weight 1 = running_var, bias 0 = running_mean): torch.onnx.export
    stores equal initializers once, so the file's bn.weight and bn.bias are read as statistics too."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 2)

    def forward(self, x):  # x: [batch, 4]
        return self.head(torch.tanh(self.bn(self.fc(x))))


class Cnn(nn.Module):
    """Conv (padding, stride, groups), BatchNormalization on images, MaxPool, AveragePool,
    GlobalAveragePool and Flatten: a small CNN on [batch, 1, 8, 8]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.fc = nn.Linear(6, 3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        h = F.max_pool2d(torch.relu(self.bn(self.conv1(x))), 2)   # [batch, 4, 4, 4]
        h = F.avg_pool2d(torch.tanh(self.conv2(h)), 2)             # [batch, 6, 2, 2]
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class Transformer(nn.Module):
    """One nn.TransformerEncoderLayer (two heads, batch_first, no dropout) and a linear head on the
    sequence's mean: the attention as torch.onnx.export writes it (MatMul, Softmax, Reshape and
    Transpose over the heads, Shape/Gather/Concat for the batch, LayerNormalization)."""

    def __init__(self):
        super().__init__()
        self.block = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, 3)
        with torch.no_grad():  # distinct values: the export merges initializers that are equal
            for p in self.parameters():
                p.uniform_(-0.5, 0.5)

    def forward(self, x):  # x: [batch, 3, 8]
        return self.head(self.block(x).mean(dim=1))


def as_dtype(x, dtype):
    """Float data in the run's dtype; integer data (token ids) as it is."""
    return x.to(dtype) if x.is_floating_point() else x


class Embed(nn.Module):
    """Gather: nn.Embedding's lookup (of a param by data indices) and x[:, 0], x[:, -1] (of data by a
    constant index); Where with a constant condition (a bool buffer)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(8, 3)
        self.register_buffer('mask', torch.tensor([True, False, True, True]))

    def forward(self, tokens):  # tokens: [batch, 3] class indices
        e = self.emb(tokens)
        e = torch.where(self.mask, e, -0.5 * e)
        return self.head(torch.cat([e[:, 0] + e[:, -1], e.mean(dim=1)], dim=1))


def case(name, module, x, targets, loss, loss_fn, output='logits', batchnorm=None, preserve=False):
    """`batchnorm`: the semantics the reference runs BatchNormalization with (the file is exported in eval mode).
    `preserve`: export with TrainingMode.PRESERVE, which skips the eval-mode pass that folds a BatchNorm
    into the Conv before it (the file's params would then be the fused weights, not the module's)."""
    torch.manual_seed(0)
    path = os.path.join(OUT, f'{name}.onnx')
    module = module.float().eval()
    torch.onnx.export(module, (as_dtype(x, torch.float32),), path, input_names=['x'], output_names=[output],
                      dynamic_axes={'x': {0: 'batch'}, output: {0: 'batch'}}, opset_version=OPSET,
                      do_constant_folding=True,
                      training=torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL)
    onnx.checker.check_model(onnx.load(path))
    record = {
        'model': f'{name}.onnx',
        'inputs': {'x': {'shape': list(x.shape), 'data': x.reshape(-1).tolist()}},
        'targets': {'shape': list(targets.shape), 'data': targets.reshape(-1).tolist()},
        'loss': {**loss, 'output': output},
        'ops': sorted({n.op_type for n in onnx.load(path).graph.node}),
    }
    if batchnorm is not None:
        record['batchnorm'] = batchnorm
        module.train(batchnorm == 'train')
    for dtype, label in [(torch.float64, 'float64'), (torch.float32, 'float32')]:
        m = module.to(dtype)
        m.zero_grad()
        out = m(as_dtype(x, dtype))
        value = loss_fn(out, targets if loss['type'] != 'mse' else targets.to(dtype))
        value.backward()
        record[label] = {
            'loss': value.item(),
            'outputs': out.detach().to(torch.float64).reshape(-1).tolist(),
            'gradients': {name: {'shape': list(g.shape), 'data': g.to(torch.float64).reshape(-1).tolist()}
                          for name, g in file_gradients(path, m).items()},
        }
    module.float()
    with open(os.path.join(OUT, f'{name}{"-" + batchnorm if batchnorm else ""}.json'), 'w') as f:
        json.dump(record, f, indent=1)
        f.write('\n')
    print(name, os.path.getsize(path), 'bytes', record['ops'])


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(19)
    torch.manual_seed(19)
    x = torch.round(torch.randn(5, 6, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    y = torch.tensor([0, 2, 1, 1, 0])
    case('mlp', Mlp(), x, y, {'type': 'cross_entropy'}, lambda o, t: F.cross_entropy(o, t))
    xb = torch.round(torch.randn(3, 3, 4, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    yb = torch.tensor([1, 0, 1])
    case('block', Block(), xb, yb, {'type': 'nll'}, lambda o, t: F.nll_loss(o, t))
    # the OpenAPI document's example (src/routes/shared/examples.ts holds it as base64)
    torch.manual_seed(0)
    case('tiny', nn.Linear(3, 2), torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=torch.float64),
         torch.tensor([1, 0]), {'type': 'cross_entropy'}, lambda o, t: F.cross_entropy(o, t))
    tokens = torch.tensor([[1, 4, 9], [0, 0, 3], [7, 2, 2], [5, 8, 1]])
    torch.manual_seed(3)
    case('embed', Embed(), tokens, torch.tensor([2, 0, 1, 1]), {'type': 'cross_entropy'}, lambda o, t: F.cross_entropy(o, t))
    xn = torch.round(torch.randn(6, 5, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    yn = torch.round(torch.randn(6, 2, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    for mode in ['eval', 'train']:
        torch.manual_seed(7)
        case('norm', Norm(), xn, yn, {'type': 'mse'}, F.mse_loss, batchnorm=mode)
    xc = torch.round(torch.randn(3, 1, 8, 8, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    for mode in ['eval', 'train']:
        torch.manual_seed(11)
        case('cnn', Cnn(), xc, torch.tensor([2, 0, 1]), {'type': 'cross_entropy'}, lambda o, t: F.cross_entropy(o, t), batchnorm=mode,
             preserve=True)
    xt = torch.round(torch.randn(2, 3, 8, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    torch.manual_seed(5)
    case('transformer', Transformer(), xt, torch.tensor([1, 2]), {'type': 'cross_entropy'}, lambda o, t: F.cross_entropy(o, t))
    xf = torch.round(torch.randn(5, 4, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    yf = torch.round(torch.randn(5, 2, generator=gen, dtype=torch.float64) * 1e4) / 1e4
    torch.manual_seed(13)
    case('fresh-norm', FreshNorm(), xf, yf, {'type': 'mse'}, F.mse_loss, batchnorm='eval', preserve=True)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Writes test/fixtures/parity/torch-parity.json: whole computations (graphs and MLPs, written exactly as
a client sends them to POST /v1/gradients) with PyTorch's loss, output and gradients for every parameter
and input, in float64, for test/engine/parity.test.ts to replay without PyTorch (micrograd's habit).

Run with a Python that has torch (Debian: apt-get install python3-torch; /usr/bin/python3):
    /usr/bin/python3 scripts/gen-torch-parity.py

The graph spec is interpreted here with torch functions, one per op, reading each op's gradserve
attributes (`negativeSlope`, `axes`, `keepdims`, `labelSmoothing`, `perm`, ...) with PyTorch's
defaults; an MLP is a torch nn.Module whose named_parameters() are the service's parameter names.
Values are rounded to 4 decimals before torch sees them, so the request carries them exactly.
"""
import base64
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'parity', 'torch-parity.json')

GEN = torch.Generator().manual_seed(20240501)


def rnd(*shape, lo=-1.0, hi=1.0):
    x = lo + (hi - lo) * torch.rand(shape, generator=GEN)
    return torch.round(x * 1e4) / 1e4


def probs(*shape):
    """Rows of probabilities along dim 1 (rounded; each row sums to 1 up to the rounding)."""
    p = torch.softmax(rnd(*shape, lo=-2, hi=2), dim=1)
    return torch.round(p * 1e4) / 1e4


def classes(n, c, *rest):
    return torch.randint(0, c, (n, *rest), generator=GEN).to(torch.float64)


def flat(t):
    return {'shape': list(t.shape), 'data': t.reshape(-1).tolist()}


def wire(t, encoding):
    """A request tensor in one of the three encodings of docs/api.md "Tensors"."""
    t = t.detach()
    if encoding == 'flat':
        return flat(t)
    if encoding == 'base64':
        raw = t.contiguous().numpy().astype('<f8').tobytes()
        return {'shape': list(t.shape), 'dtype': 'float64', 'base64': base64.b64encode(raw).decode('ascii')}
    return t.tolist()


# ---- the graph ops in torch --------------------------------------------------------------------------

def axes_of(x, attrs):
    a = attrs.get('axes')
    if a is None:
        return tuple(range(x.dim()))
    return (a,) if isinstance(a, int) else tuple(a)


def reduce(fn):
    return lambda xs, a: fn(xs[0], dim=axes_of(xs[0], a), keepdim=a.get('keepdims', False))


def class_target(x, t):
    """A target shaped like x without its class dim holds class indices (torch wants them as int64)."""
    return t if t.shape == x.shape else t.long()


def sliced(x, a):
    idx = [slice(None)] * x.dim()
    idx[a.get('axis', 0)] = slice(a.get('start', 0), a.get('end'))
    return x[tuple(idx)]


ACTIVATIONS = {
    'identity': lambda x, a: x,
    'relu': lambda x, a: F.relu(x),
    'leaky_relu': lambda x, a: F.leaky_relu(x, a.get('negativeSlope', 0.01)),
    'elu': lambda x, a: F.elu(x, a.get('alpha', 1.0)),
    'selu': lambda x, a: F.selu(x),
    'gelu': lambda x, a: F.gelu(x),
    'gelu_tanh': lambda x, a: F.gelu(x, approximate='tanh'),
    'silu': lambda x, a: F.silu(x),
    'sigmoid': lambda x, a: torch.sigmoid(x),
    'tanh': lambda x, a: torch.tanh(x),
    'softplus': lambda x, a: F.softplus(x, a.get('beta', 1), a.get('threshold', 20)),
    'softsign': lambda x, a: F.softsign(x),
}

LOSSES = {
    'mse_loss': lambda p, t, a: F.mse_loss(p, t, reduction=a.get('reduction', 'mean')),
    'l1_loss': lambda p, t, a: F.l1_loss(p, t, reduction=a.get('reduction', 'mean')),
    'huber_loss': lambda p, t, a: F.huber_loss(p, t, reduction=a.get('reduction', 'mean'), delta=a.get('delta', 1.0)),
    'bce_loss': lambda p, t, a: F.binary_cross_entropy(p, t, reduction=a.get('reduction', 'mean')),
    'bce_with_logits_loss': lambda p, t, a: F.binary_cross_entropy_with_logits(p, t, reduction=a.get('reduction', 'mean')),
    'cross_entropy_loss': lambda x, t, a: F.cross_entropy(
        x, class_target(x, t), reduction=a.get('reduction', 'mean'), label_smoothing=a.get('labelSmoothing', 0.0)),
    'nll_loss': lambda x, t, a: F.nll_loss(x, t.long(), reduction=a.get('reduction', 'mean')),
}

OPS = {
    'add': lambda xs, a: xs[0] + xs[1],
    'sub': lambda xs, a: xs[0] - xs[1],
    'mul': lambda xs, a: xs[0] * xs[1],
    'div': lambda xs, a: xs[0] / xs[1],
    'pow': lambda xs, a: torch.pow(xs[0], xs[1]),
    'maximum': lambda xs, a: torch.maximum(xs[0], xs[1]),
    'minimum': lambda xs, a: torch.minimum(xs[0], xs[1]),
    'neg': lambda xs, a: torch.neg(xs[0]),
    'abs': lambda xs, a: torch.abs(xs[0]),
    'exp': lambda xs, a: torch.exp(xs[0]),
    'log': lambda xs, a: torch.log(xs[0]),
    'sqrt': lambda xs, a: torch.sqrt(xs[0]),
    'square': lambda xs, a: torch.square(xs[0]),
    'reciprocal': lambda xs, a: torch.reciprocal(xs[0]),
    'sin': lambda xs, a: torch.sin(xs[0]),
    'cos': lambda xs, a: torch.cos(xs[0]),
    'clamp': lambda xs, a: torch.clamp(xs[0], a.get('min'), a.get('max')),
    'matmul': lambda xs, a: torch.matmul(xs[0], xs[1]),
    'linear': lambda xs, a: F.linear(xs[0], xs[1], xs[2] if len(xs) > 2 else None),
    'transpose': lambda xs, a: xs[0].permute(*(a['perm'] if 'perm' in a else reversed(range(xs[0].dim())))),
    'reshape': lambda xs, a: torch.reshape(xs[0], a['shape']),
    'concat': lambda xs, a: torch.cat(xs, dim=a.get('axis', 0)),
    'slice': lambda xs, a: sliced(xs[0], a),
    'squeeze': lambda xs, a: torch.squeeze(xs[0], a['axis']) if 'axis' in a else torch.squeeze(xs[0]),
    'unsqueeze': lambda xs, a: torch.unsqueeze(xs[0], a['axis']),
    'sum': reduce(torch.sum),
    'mean': reduce(torch.mean),
    'max': reduce(torch.amax),
    'logsumexp': reduce(torch.logsumexp),
    'softmax': lambda xs, a: torch.softmax(xs[0], dim=a.get('axis', -1)),
    'log_softmax': lambda xs, a: torch.log_softmax(xs[0], dim=a.get('axis', -1)),
    'layernorm': lambda xs, a: F.layer_norm(
        xs[0], xs[0].shape[a.get('axis', -1):], *(xs[1:] + [None, None])[:2], eps=a.get('eps', 1e-5)),
    'batchnorm': lambda xs, a: F.batch_norm(
        xs[0], None, None, *(xs[1:] + [None, None])[:2], training=True, eps=a.get('eps', 1e-5)),
    'dropout': lambda xs, a: F.dropout(xs[0], p=a.get('p', 0.5), training=True),
}


# convolution and pooling (issue 18): gradserve's camelCase attributes, torch's defaults
def conv(fn):
    return lambda xs, a: fn(xs[0], xs[1], xs[2] if len(xs) > 2 else None, stride=a.get('stride', 1),
                            padding=a.get('padding', 0), dilation=a.get('dilation', 1), groups=a.get('groups', 1))


def pair(v):
    return tuple(v) if isinstance(v, list) else v


OPS.update({
    'conv1d': conv(F.conv1d),
    'conv2d': conv(F.conv2d),
    'max_pool2d': lambda xs, a: F.max_pool2d(
        xs[0], pair(a['kernelSize']), pair(a.get('stride')), pair(a.get('padding', 0)), pair(a.get('dilation', 1)),
        ceil_mode=a.get('ceilMode', False)),
    'avg_pool2d': lambda xs, a: F.avg_pool2d(
        xs[0], pair(a['kernelSize']), pair(a.get('stride')), pair(a.get('padding', 0)), ceil_mode=a.get('ceilMode', False),
        count_include_pad=a.get('countIncludePad', True), divisor_override=a.get('divisorOverride')),
    'adaptive_avg_pool2d': lambda xs, a: F.adaptive_avg_pool2d(xs[0], pair(a['outputSize'])),
    'flatten': lambda xs, a: torch.flatten(xs[0], a.get('startDim', 0), a.get('endDim', -1)),
})
OPS.update({name: (lambda f: lambda xs, a: f(xs[0], a))(f) for name, f in ACTIVATIONS.items()})
OPS.update({name: (lambda f: lambda xs, a: f(xs[0], xs[1], a))(f) for name, f in LOSSES.items()})


def run_graph(model, leaves):
    """Evaluates every node (listed in any order) by resolving its inputs on demand."""
    nodes = {n['id']: n for n in model['nodes']}
    values = dict(leaves)
    for name, c in model.get('constants', {}).items():
        values[name] = torch.tensor(c)

    def value(ref):
        if isinstance(ref, (int, float)):
            return torch.tensor(float(ref))
        if ref not in values:
            n = nodes[ref]
            if n['op'] == 'dropout':
                assert n.get('attrs', {}).get('p', 0.5) in (0, 1), "torch's dropout masks cannot match the service's seeded ones"
            values[ref] = OPS[n['op']]([value(r) for r in n['inputs']], n.get('attrs', {}))
        return values[ref]

    return value(model['output'])


# ---- the MLP in torch: parameter names come from torch's own module tree ------------------------------

class Layer(nn.Module):
    def __init__(self, fan_in, units, bias, norm):
        super().__init__()
        lin = nn.Linear(fan_in, units, bias=bias)
        self.weight = nn.Parameter(torch.round(lin.weight.detach() * 1e4) / 1e4)
        self.bias = nn.Parameter(torch.round(lin.bias.detach() * 1e4) / 1e4) if bias else None
        if norm:
            self.norm = nn.LayerNorm(units)
            with torch.no_grad():
                # away from the ones/zeros default so that a mix-up of weight and bias shows
                self.norm.weight.copy_(1 + rnd(units, lo=-0.5, hi=0.5))
                self.norm.bias.copy_(rnd(units, lo=-0.2, hi=0.2))


class Mlp(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        widths = [spec['inputSize']] + [layer['units'] for layer in spec['layers']]
        last = len(spec['layers']) - 1
        self.layers = nn.ModuleList(
            Layer(widths[i], widths[i + 1], spec.get('bias', True), spec.get('norm') == 'layernorm' and i < last)
            for i in range(len(widths) - 1))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            h = F.linear(x, layer.weight, layer.bias)
            if hasattr(layer, 'norm'):
                h = layer.norm(h)
            act = self.spec['layers'][i].get('activation', 'identity')
            attrs = dict(act) if isinstance(act, dict) else {'type': act}
            h = ACTIVATIONS[attrs.pop('type')](h, attrs)
            if self.spec.get('residual') and h.shape == x.shape:
                h = h + x
            x = h
        return x


# ---- cases ---------------------------------------------------------------------------------------------

CASES = []


def case(name, model, inputs, params=None, targets=None, loss=None, output_grad=None, index_inputs=(), float32=False,
         encoding='nested'):
    """Runs one request through torch and records it with torch's results.

    `inputs` is {name: tensor} for a graph, one tensor for an MLP; `params` {name: tensor} for a graph
    (an MLP's come from its module). Inputs listed in `index_inputs` hold class indices: no gradient.
    `encoding` is how the request writes its params, inputs, targets and outputGrad.
    """
    if model['type'] == 'mlp':
        net = Mlp(model)
        named = dict(net.named_parameters())
        x = inputs.clone().requires_grad_(True)
        leaves_in = {'inputs': x}
        out = net(x)
    else:
        named = {k: v.clone().requires_grad_(True) for k, v in (params or {}).items()}
        leaves_in = {k: v.clone().requires_grad_(k not in index_inputs) for k, v in inputs.items()}
        out = run_graph(model, {**leaves_in, **named})
    value = out
    if loss is not None:
        attrs = {k: v for k, v in loss.items() if k != 'type'}
        value = LOSSES[loss['type'] + '_loss'](out, targets, attrs)
    if output_grad is not None:
        out.backward(output_grad)
    else:
        assert value.dim() == 0, f'{name}: the graph must end in a scalar loss'
        value.backward()

    def grad(t):
        return flat(t.grad if t.grad is not None else torch.zeros_like(t))

    request = {
        'model': model,
        'params': {k: wire(v, encoding) for k, v in named.items()},
        'inputs': wire(inputs, encoding) if model['type'] == 'mlp' else {k: wire(v, encoding) for k, v in inputs.items()},
        'options': {'dtype': 'float64', 'returnOutputs': True, 'inputGradients': True},
    }
    if targets is not None:
        request['targets'] = wire(targets, encoding)
        request['loss'] = loss
    if output_grad is not None:
        request['outputGrad'] = wire(output_grad, encoding)
    expected = {
        'outputs': flat(out.detach()),
        'gradients': {k: grad(v) for k, v in named.items()},
        'inputGradients': {k: grad(v) for k, v in leaves_in.items() if v.requires_grad},
    }
    if output_grad is None:
        expected['loss'] = value.item()
    CASES.append({'name': name, 'float32': float32, 'request': request, 'expected': expected})


def graph(nodes, output, inputs=(), params=None, constants=None):
    g = {'type': 'graph', 'inputs': list(inputs), 'params': {k: {'shape': s} for k, s in (params or {}).items()},
         'nodes': nodes, 'output': output}
    if constants:
        g['constants'] = constants
    return g


def n(id, op, *inputs, **attrs):
    node = {'id': id, 'op': op, 'inputs': list(inputs)}
    if attrs:
        node['attrs'] = attrs
    return node


def shapes(**tensors):
    return {k: list(v.shape) for k, v in tensors.items()}


def elementwise_cases():
    x = rnd(3, 4)
    p = {'a': rnd(4), 'b': rnd(3, 1), 'c': rnd(), 'd': rnd(1, 4, lo=0.5, hi=2), 'e': rnd(3, 1), 'f': rnd(4)}
    case('binary ops with broadcasting', graph([
        n('s1', 'add', 'x', 'a'), n('s2', 'sub', 's1', 'b'), n('s3', 'mul', 's2', 'c'), n('s4', 'div', 's3', 'd'),
        n('s5', 'maximum', 's4', 'e'), n('s6', 'minimum', 's5', 'f'), n('s7', 'sub', 'f', 's6'),
        n('L', 'mean', 's7', axes=[0, 1]),
    ], 'L', inputs=['x'], params=shapes(**p)), {'x': x}, p)

    base = {'u': rnd(3, 4, lo=0.2, hi=2), 'v': rnd(4, lo=-1.5, hi=2.5)}
    case('pow with a trainable base and exponent, and a literal exponent', graph([
        n('y', 'pow', 'u', 'v'), n('z', 'pow', 'u', 2.5), n('w', 'add', 'y', 'z'), n('L', 'sum', 'w'),
    ], 'L', params=shapes(**base)), {}, base)

    case('pow at a zero base (masked partials)', graph([
        n('y', 'pow', 'u', 'v'), n('L', 'sum', 'y'),
    ], 'L', params={'u': [3], 'v': [3]}), {}, {'u': torch.tensor([0.0, 0.0, 1.5]), 'v': torch.tensor([2.0, 0.0, 3.0])})

    x = rnd(3, 4, lo=-2, hi=2)
    case('unary math ops', graph([
        n('m', 'mul', 'x', 'k'),
        n('a', 'sin', 'm'), n('b', 'cos', 'm'), n('c', 'exp', 'nm'), n('nm', 'neg', 'sq'), n('sq', 'square', 'm'),
        n('ab', 'abs', 'm'), n('ab1', 'add', 'ab', 1), n('d', 'log', 'ab1'), n('e', 'reciprocal', 'ab1'),
        n('f', 'sqrt', 'ab1'),
        n('t1', 'add', 'a', 'b'), n('t2', 'add', 't1', 'c'), n('t3', 'add', 't2', 'd'), n('t4', 'sub', 't3', 'e'),
        n('t5', 'mul', 't4', 'f'), n('L', 'sum', 't5'),
    ], 'L', inputs=['x'], params={'k': [4]}), {'x': x}, {'k': rnd(4, lo=0.5, hi=1.5)})


ACTIVATION_CASES = [
    ('relu', {}), ('leaky_relu', {}), ('leaky_relu', {'negativeSlope': 0.2}), ('elu', {}), ('elu', {'alpha': 0.7}),
    ('selu', {}), ('gelu', {}), ('gelu_tanh', {}), ('silu', {}), ('sigmoid', {}), ('tanh', {}),
    ('softplus', {}), ('softplus', {'beta': 2, 'threshold': 3}), ('softsign', {}), ('identity', {}),
    ('clamp', {'min': -0.5, 'max': 0.8}), ('clamp', {'min': -0.3}), ('clamp', {'max': 0.4}), ('dropout', {'p': 0}),
]


def activation_cases():
    for op, attrs in ACTIVATION_CASES:
        x, t = rnd(3, 4, lo=-2, hi=2), rnd(3, 2)
        p = {'W': rnd(2, 4), 'b': rnd(2)}
        label = op + (' ' + json.dumps(attrs, separators=(',', ':')) if attrs else '')
        # the linear map spreads x over both sides of every kink; softplus's threshold 3 at beta 2 is
        # crossed by pre-activations above 1.5
        W = p['W'] * (2.5 if op == 'softplus' else 1)
        case(f'activation {label}', graph([
            n('z', 'linear', 'x', 'W', 'b'), n('h', op, 'z', **attrs), n('L', 'mse_loss', 'h', 't'),
        ], 'L', inputs=['x', 't'], params=shapes(**p)), {'x': x, 't': t}, {'W': W, 'b': p['b']})


def kink_cases():
    # exact zeros, ties and bounds, where each op picks a subgradient; the NOTEs say PyTorch's
    x = torch.tensor([[0.0, 0.5, -0.5, 0.25], [0.8, -0.5, 0.0, 1.0]])
    case('subgradients at kinks and ties', graph([
        n('r', 'relu', 'x'), n('lr', 'leaky_relu', 'x', negativeSlope=0.3), n('e', 'elu', 'x', alpha=0.5),
        n('ab', 'abs', 'x'), n('c', 'clamp', 'x', min=-0.5, max=0.8), n('mx', 'maximum', 'x', 'y'),
        n('mn', 'minimum', 'x', 'y'), n('am', 'max', 'x', axes=1),
        n('cat', 'concat', 'r', 'lr', 'e', 'ab', 'c', 'mx', 'mn', axis=0),
        n('l1', 'sum', 'cat'), n('l2', 'sum', 'am'), n('L', 'add', 'l1', 'l2'),
    ], 'L', inputs=['x', 'y']), {'x': x, 'y': torch.tensor([0.25, 0.5, 0.0, 1.0])})

    # amax over a tie splits evenly (the 0.5 appears twice in row 0, 0.75 three times in row 1)
    case('max with ties along an axis', graph([
        n('m', 'max', 'x', axes=-1, keepdims=True), n('w', 'mul', 'm', 'k'), n('L', 'sum', 'w'),
    ], 'L', inputs=['x'], params={'k': [2, 1]}),
        {'x': torch.tensor([[0.5, -1.0, 0.5, 0.25], [0.75, 0.75, 0.75, -2.0]])}, {'k': torch.tensor([[1.5], [-2.0]])})

    case('l1 at zero difference, huber at |d| = delta', graph([
        n('a', 'l1_loss', 'p', 't'), n('b', 'huber_loss', 'p', 't', delta=0.5), n('L', 'add', 'a', 'b'),
    ], 'L', inputs=['p', 't']), {'p': torch.tensor([1.0, 1.5, 0.25, -1.0]), 't': torch.tensor([1.0, 1.0, 0.75, 2.0])})


def linalg_cases():
    p = {'A': rnd(3, 4), 'B': rnd(4, 2)}
    case('matmul 2-D', graph([n('y', 'matmul', 'A', 'B'), n('s', 'square', 'y'), n('L', 'sum', 's')],
                             'L', params=shapes(**p)), {}, p)
    p = {'A': rnd(2, 3, 4), 'B': rnd(4, 5)}
    case('matmul batched against one matrix', graph([n('y', 'matmul', 'A', 'B'), n('L', 'logsumexp', 'y')],
                                                    'L', params=shapes(**p)), {}, p, float32=True)
    p = {'A': rnd(2, 1, 3, 4), 'B': rnd(3, 4, 2)}
    case('matmul with broadcast batch dims', graph([n('y', 'matmul', 'A', 'B'), n('s', 'sin', 'y'), n('L', 'sum', 's')],
                                                   'L', params=shapes(**p)), {}, p)
    p = {'v': rnd(4), 'M': rnd(4, 3), 'N': rnd(2, 3, 4)}
    case('matmul with 1-D operands', graph([
        n('r', 'matmul', 'v', 'M'), n('c', 'matmul', 'N', 'v'), n('rs', 'square', 'r'), n('cs', 'square', 'c'),
        n('a', 'sum', 'rs'), n('b', 'mean', 'cs'), n('L', 'add', 'a', 'b'),
    ], 'L', params=shapes(**p)), {}, p)
    x, t = rnd(2, 3, 4), rnd(2, 3, 5)
    p = {'W': rnd(5, 4), 'b': rnd(5)}
    case('linear with bias on [2, 3, 4]', graph([n('y', 'linear', 'x', 'W', 'b'), n('L', 'mse_loss', 'y', 't')],
                                                'L', inputs=['x', 't'], params=shapes(**p)), {'x': x, 't': t}, p)
    p = {'W': rnd(5, 4)}
    case('linear without bias', graph([n('y', 'linear', 'x', 'W'), n('L', 'mse_loss', 'y', 't', reduction='sum')],
                                      'L', inputs=['x', 't'], params=shapes(**p)), {'x': rnd(3, 4), 't': rnd(3, 5)}, p)


def shape_cases():
    p = {'X': rnd(2, 3, 4), 'Y': rnd(3, 2), 'Z': rnd(3, 1, 4)}
    k = rnd(24)
    case('transpose, reshape, concat', graph([
        n('t', 'transpose', 'X', perm=[2, 0, 1]),        # [4, 2, 3]
        n('t2', 'transpose', 'Y'),                       # [2, 3]
        n('t3', 'transpose', 'X', perm=[-1, 1, -3]),      # [4, 3, 2]
        n('r', 'reshape', 't', shape=[-1, 6]),            # [4, 6]
        n('r2', 'reshape', 't3', shape=[4, -1]),          # [4, 6]
        n('u', 'unsqueeze', 't2', axis=0),                # [1, 2, 3]
        n('ur', 'reshape', 'u', shape=[1, 6]),
        n('c', 'concat', 'r', 'r2', 'ur', axis=0),        # [9, 6]
        n('c2', 'concat', 'r', 'Zr', axis=-1),            # [4, 9]
        n('Zr', 'reshape', 'Z', shape=[4, 3]),
        n('w', 'reshape', 'k', shape=[4, 6]), n('cw', 'slice', 'c', end=4), n('p1', 'mul', 'cw', 'w'),
        n('a', 'sum', 'p1'), n('q', 'square', 'c2'), n('b', 'sum', 'q'), n('L', 'add', 'a', 'b'),
    ], 'L', params=shapes(**p), constants={'k': k.tolist()}), {}, p)

    p = {'X': rnd(3, 5, 4), 'S': rnd(2, 1, 3, 1)}
    case('slice with negative indices, squeeze, unsqueeze', graph([
        n('a', 'slice', 'X', axis=1, start=-3, end=-1),    # [3, 2, 4]
        n('b', 'slice', 'X', axis=-1, start=1),            # [3, 5, 3]
        n('c', 'slice', 'X', axis=0, start=-100, end=2),   # [2, 5, 4]
        n('s1', 'squeeze', 'S', axis=1),                   # [2, 3, 1]
        n('s2', 'squeeze', 'S'),                           # [2, 3]
        n('s3', 'squeeze', 'S', axis=2),                   # size 3: unchanged
        n('u', 'unsqueeze', 's2', axis=-1),                # [2, 3, 1]
        n('v', 'mul', 's1', 'u'), n('vs', 'sum', 'v'), n('w', 'mul', 's3', 's3'), n('ws', 'sum', 'w'),
        n('as', 'square', 'a'), n('bs', 'sin', 'b'), n('cs', 'cos', 'c'),
        n('l1', 'sum', 'as'), n('l2', 'sum', 'bs'), n('l3', 'mean', 'cs'),
        n('t1', 'add', 'l1', 'l2'), n('t2', 'add', 't1', 'l3'), n('t3', 'add', 't2', 'vs'), n('L', 'add', 't3', 'ws'),
    ], 'L', params=shapes(**p)), {}, p)


def reduction_cases():
    p = {'X': rnd(2, 3, 4, lo=-2, hi=2)}
    specs = [
        ('sum', {'axes': [0, 2], 'keepdims': True}), ('sum', {}), ('mean', {'axes': -1}), ('mean', {'axes': [0, 1], 'keepdims': True}),
        ('max', {'axes': 1, 'keepdims': True}), ('max', {'axes': [-1, 0]}), ('max', {}),
        ('logsumexp', {'axes': [0, 1]}), ('logsumexp', {'axes': 2, 'keepdims': True}), ('logsumexp', {}),
    ]
    for op, attrs in specs:
        label = op + (' ' + json.dumps(attrs, separators=(',', ':')) if attrs else ' over all axes')
        # a fixed weighting makes every output element's gradient different: L = Σ w·r(X)²
        case(f'reduction {label}', graph([
            n('r', op, 'X', **attrs), n('s', 'square', 'r'), n('w', 'mul', 's', 'k'), n('L', 'sum', 'w'),
        ], 'L', params=shapes(**p), constants={'k': 1.5}), {}, p, float32=(op == 'logsumexp' and attrs == {}))


def probability_cases():
    p = {'X': rnd(3, 4, lo=-3, hi=3)}
    k = rnd(3, 4)
    for op, axis in [('softmax', 0), ('softmax', -1), ('log_softmax', -1), ('log_softmax', 0)]:
        case(f'{op} axis {axis}', graph([
            n('y', op, 'X', axis=axis), n('w', 'mul', 'y', 'k'), n('L', 'sum', 'w'),
        ], 'L', params=shapes(**p), constants={'k': k.tolist()}), {}, p, float32=(op == 'softmax' and axis == -1))


def norm_cases():
    p = {'X': rnd(3, 4, lo=-2, hi=2), 'w': rnd(4, lo=0.5, hi=1.5), 'b': rnd(4)}
    k = rnd(3, 4)
    case('layernorm with weight and bias', graph([
        n('y', 'layernorm', 'X', 'w', 'b'), n('s', 'mul', 'y', 'k'), n('L', 'sum', 's'),
    ], 'L', params=shapes(**p), constants={'k': k.tolist()}), {}, p)
    p = {'X': rnd(2, 3, 4, lo=-2, hi=2), 'w': rnd(3, 4, lo=0.5, hi=1.5), 'b': rnd(3, 4)}
    case('layernorm over the last two axes, eps 1e-3', graph([
        n('y', 'layernorm', 'X', 'w', 'b', axis=1, eps=1e-3), n('s', 'tanh', 'y'), n('L', 'sum', 's'),
    ], 'L', params=shapes(**p)), {}, p)
    p = {'X': rnd(3, 5, lo=-2, hi=2)}
    case('layernorm without weight and bias', graph([
        n('y', 'layernorm', 'X'), n('s', 'sin', 'y'), n('L', 'sum', 's'),
    ], 'L', params=shapes(**p)), {}, p)
    p = {'X': rnd(4, 3, lo=-2, hi=2), 'w': rnd(3, lo=0.5, hi=1.5), 'b': rnd(3)}
    case('batchnorm [N, C] with weight and bias', graph([
        n('y', 'batchnorm', 'X', 'w', 'b'), n('s', 'mul', 'y', 'k'), n('L', 'sum', 's'),
    ], 'L', params=shapes(**p), constants={'k': rnd(4, 3).tolist()}), {}, p, float32=True)
    p = {'X': rnd(2, 3, 4, lo=-2, hi=2), 'w': rnd(3, lo=0.5, hi=1.5), 'b': rnd(3)}
    case('batchnorm [N, C, L] with weight and bias, eps 1e-3', graph([
        n('y', 'batchnorm', 'X', 'w', 'b', eps=1e-3), n('s', 'sin', 'y'), n('L', 'sum', 's'),
    ], 'L', params=shapes(**p)), {}, p)


def loss_cases():
    for red in ['mean', 'sum']:
        p, t = rnd(3, 4), rnd(3, 4)
        for op, attrs in [('mse_loss', {}), ('l1_loss', {}), ('huber_loss', {}), ('huber_loss', {'delta': 0.3}),
                          ('bce_with_logits_loss', {})]:
            label = op + (' delta 0.3' if attrs else '')
            # targets are inputs, so inputGradients gives torch's gradient with respect to them too
            case(f'{label} {red}', graph([
                n('y', 'mul', 'x', 'k'), n('L', op, 'y', 't', reduction=red, **attrs),
            ], 'L', inputs=['x', 't'], params={'k': [4]}), {'x': p * 2, 't': t}, {'k': rnd(4, lo=0.5, hi=1.5)})

        case(f'bce_loss {red}', graph([
            n('y', 'sigmoid', 'x'), n('L', 'bce_loss', 'y', 't', reduction=red),
        ], 'L', inputs=['x', 't']), {'x': rnd(3, 4, lo=-3, hi=3), 't': rnd(3, 4, lo=0, hi=1)})

        x = rnd(4, 5, lo=-2, hi=2)
        for ls in [0.0, 0.2]:
            tag = f' label smoothing {ls}' if ls else ''
            attrs = {'labelSmoothing': ls} if ls else {}
            case(f'cross_entropy_loss class indices{tag} {red}', graph([
                n('z', 'mul', 'x', 'k'), n('L', 'cross_entropy_loss', 'z', 'c', reduction=red, **attrs),
            ], 'L', inputs=['x', 'c'], params={'k': [5]}), {'x': x, 'c': classes(4, 5)}, {'k': rnd(5, lo=0.5, hi=1.5)},
                index_inputs=['c'], float32=(ls > 0 and red == 'mean'))
            case(f'cross_entropy_loss probabilities{tag} {red}', graph([
                n('z', 'mul', 'x', 'k'), n('L', 'cross_entropy_loss', 'z', 'q', reduction=red, **attrs),
            ], 'L', inputs=['x', 'q'], params={'k': [5]}), {'x': x, 'q': probs(4, 5)}, {'k': rnd(5, lo=0.5, hi=1.5)})

        case(f'cross_entropy_loss [N, C, d] class indices {red}', graph([
            n('L', 'cross_entropy_loss', 'x', 'c', reduction=red, labelSmoothing=0.1),
        ], 'L', inputs=['x', 'c']), {'x': rnd(2, 4, 3, lo=-2, hi=2), 'c': classes(2, 4, 3)}, index_inputs=['c'])

        case(f'nll_loss after log_softmax {red}', graph([
            n('lp', 'log_softmax', 'x', axis=1), n('L', 'nll_loss', 'lp', 'c', reduction=red),
        ], 'L', inputs=['x', 'c']), {'x': rnd(4, 3, lo=-2, hi=2), 'c': classes(4, 3)}, index_inputs=['c'])


def edge_cases():
    p = {'A': rnd(3, 4), 'B': rnd(2, 4, 5), 'v': rnd(4), 'u': rnd(4), 'x': rnd(4), 'W': rnd(3, 4), 'b': rnd(3)}
    case('matmul shared left operand, 1-D dot, 1-D linear', graph([
        n('y', 'matmul', 'A', 'B'),                      # [2, 3, 5], A shared by both batches
        n('z', 'matmul', 'v', 'B'),                      # [2, 5]
        n('d', 'matmul', 'v', 'u'),                      # [] (dot product)
        n('l', 'linear', 'x', 'W', 'b'),                 # [3]
        n('ys', 'square', 'y'), n('a', 'sum', 'ys'), n('zs', 'sin', 'z'), n('c', 'sum', 'zs'), n('ls', 'sum', 'l'),
        n('t1', 'add', 'a', 'c'), n('t2', 'mul', 't1', 'd'), n('L', 'add', 't2', 'ls'),
    ], 'L', params=shapes(**p)), {}, p)

    p = {'X': rnd(2, 3, 2, 2, lo=-2, hi=2), 'w': rnd(3, lo=0.5, hi=1.5), 'b': rnd(3), 's': rnd(), 'unused': rnd(2)}
    case('4-D batchnorm, layernorm over all axes, 0-d squeeze/unsqueeze, an unused param', graph([
        n('y', 'batchnorm', 'X', 'w', 'b'), n('z', 'layernorm', 'y', axis=0), n('zs', 'sin', 'z'),
        n('u', 'unsqueeze', 's', axis=0), n('q', 'squeeze', 's', axis=-1), n('uz', 'mul', 'zs', 'u'),
        n('one', 'concat', 'uz', axis=1), n('r', 'reshape', 'q', shape=[1, 1]), n('rr', 'reshape', 'r', shape=[]),
        n('a', 'sum', 'one'), n('L', 'mul', 'a', 'rr'),
    ], 'L', params=shapes(**p)), {}, p)

    p = {'X': rnd(2, 3, 4, lo=-2, hi=2)}
    case('keepdims over all axes, softmax over a size-1 axis, empty slice', graph([
        n('m', 'max', 'X', keepdims=True), n('a', 'mean', 'X', keepdims=True), n('l', 'logsumexp', 'X', keepdims=True),
        n('s', 'sum', 'X', keepdims=True), n('u', 'unsqueeze', 'X', axis=1), n('sm', 'softmax', 'u', axis=1),
        n('e', 'slice', 'X', axis=2, start=3, end=1), n('es', 'sum', 'e'),
        n('t1', 'mul', 'm', 'a'), n('t2', 'mul', 't1', 'l'), n('t3', 'add', 't2', 's'), n('t4', 'mul', 'sm', 't3'),
        n('t5', 'sum', 't4'), n('L', 'add', 't5', 'es'),
    ], 'L', params=shapes(**p)), {}, p)

    x = torch.tensor([[0.0, -0.5, 1.5, -2.0], [2.0, 0.0, -1.0, 3.0]])
    case('pow with negative and zero bases and zero exponents, clamp with min > max, dropout p = 1', graph([
        n('c', 'pow', 'x', 3), n('z', 'pow', 'x', 0), n('ax', 'abs', 'x'), n('h', 'pow', 'ax', 'k'), n('cl', 'clamp', 'x', min=1, max=0),
        n('d', 'dropout', 'x', p=1, seed=3), n('s', 'selu', 'x'), n('g', 'gelu', 'x'), n('si', 'silu', 'x'),
        n('cat', 'concat', 'c', 'z', 'h', 'cl', 'd', 's', 'g', 'si', axis=0), n('w', 'mul', 'cat', 'k2'),
        n('L', 'sum', 'w'),
    ], 'L', inputs=['x'], params={'k': [4]}, constants={'k2': rnd(16, 4).tolist()}),
        {'x': x}, {'k': torch.tensor([2.0, 0.0, 4.0, 1.0])})

    # magnitudes where a naive exp over- or underflows: the stable forms must give torch's finite values
    big = torch.tensor([[800.0, -800.0, 0.5, 30.0], [-50.0, 50.0, 700.0, -700.0]])
    case('large logits: softmax, log_softmax, logsumexp, activations', graph([
        n('a', 'softmax', 'x'), n('b', 'log_softmax', 'x', axis=0), n('c', 'logsumexp', 'x', axes=1, keepdims=True),
        n('d', 'sigmoid', 'x'), n('e', 'softplus', 'x'), n('f', 'tanh', 'x'), n('g', 'gelu_tanh', 'x'),
        n('h', 'elu', 'x'), n('i', 'softsign', 'x'), n('cc', 'mul', 'c', 'ones'),
        n('cat', 'concat', 'a', 'b', 'cc', 'd', 'e', 'f', 'g', 'h', 'i', axis=0), n('w', 'mul', 'cat', 'k'),
        n('L', 'sum', 'w'),
    ], 'L', inputs=['x'], constants={'ones': [1.0, 1.0, 1.0, 1.0], 'k': rnd(18, 4).tolist()}), {'x': big})
    case('large logits: cross_entropy and bce_with_logits', graph([
        n('a', 'cross_entropy_loss', 'x', 'c', labelSmoothing=0.1), n('b', 'bce_with_logits_loss', 'x', 't'),
        n('L', 'add', 'a', 'b'),
    ], 'L', inputs=['x', 'c', 't']), {'x': big, 'c': torch.tensor([1.0, 3.0]), 't': rnd(2, 4, lo=0, hi=1)},
        index_inputs=['c'])

    case('cross_entropy and nll on one sample [C]; probabilities and nll on [N, C, d]', graph([
        n('a', 'cross_entropy_loss', 'x', 'c'), n('lp', 'log_softmax', 'x'), n('b', 'nll_loss', 'lp', 'c', reduction='sum'),
        n('d', 'cross_entropy_loss', 'y', 'q', labelSmoothing=0.3), n('yt', 'transpose', 'y'),  # [3, 4, 2]
        n('e', 'nll_loss', 'yt', 'k'), n('ab', 'add', 'a', 'b'), n('de', 'add', 'd', 'e'), n('L', 'add', 'ab', 'de'),
    ], 'L', inputs=['x', 'c', 'y', 'q', 'k']),
        {'x': rnd(5, lo=-2, hi=2), 'c': torch.tensor(3.0), 'y': rnd(2, 4, 3, lo=-2, hi=2), 'q': probs(2, 4, 3),
         'k': classes(3, 4, 2)}, index_inputs=['c', 'k'])

    # log clamped at −100 and the 1e-12 floor of the gradient's denominator, as torch; targets are
    # constants because torch's target gradient there is ±inf (see the NOTE in bce-loss.ts)
    case('bce_loss at p = 0 and p = 1', graph([
        n('L', 'bce_loss', 'p', 't', reduction='sum'),
    ], 'L', inputs=['p'], constants={'t': [0.0, 0.3, 1.0, 0.6, 0.0, 1.0]}),
        {'p': torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])})


def output_grad_cases():
    p = {'W': rnd(3, 4), 'b': rnd(3)}
    case('outputGrad through a graph (VJP of a [2, 3] output)', graph([
        n('z', 'linear', 'x', 'W', 'b'), n('y', 'tanh', 'z'),
    ], 'y', inputs=['x'], params=shapes(**p)), {'x': rnd(2, 4)}, p, output_grad=rnd(2, 3), encoding='flat')
    case('graph output with loss and targets fields', graph([
        n('z', 'linear', 'x', 'W', 'b'), n('y', 'softsign', 'z'),
    ], 'y', inputs=['x'], params=shapes(**p)), {'x': rnd(2, 4)}, p, targets=rnd(2, 3),
        loss={'type': 'huber', 'reduction': 'sum', 'delta': 0.2})


def mlp(layers, input_size=4, **kw):
    return {'type': 'mlp', 'inputSize': input_size, 'layers': layers, **kw}


def mlp_cases():
    X = rnd(5, 4, lo=-2, hi=2)
    T = rnd(5, 2)
    layers = [{'units': 6, 'activation': 'relu'}, {'units': 5, 'activation': 'tanh'},
              {'units': 4, 'activation': 'gelu'}, {'units': 2}]
    case('mlp relu/tanh/gelu, mse', mlp(layers), X, targets=T, loss={'type': 'mse'})
    case('mlp without bias, mse sum (flat tensors)', mlp(layers, bias=False), X, targets=T,
         loss={'type': 'mse', 'reduction': 'sum'}, encoding='flat')
    case('mlp layernorm, tanh', mlp([{'units': 6, 'activation': 'tanh'}, {'units': 6, 'activation': 'silu'},
                                     {'units': 2}], norm='layernorm'), X, targets=T, loss={'type': 'mse'}, float32=True)
    case('mlp residual (4 → 4 → 4 → 2)', mlp([{'units': 4, 'activation': 'relu'}, {'units': 4, 'activation': 'tanh'},
                                             {'units': 2}], residual=True), X, targets=T, loss={'type': 'l1'})
    case('mlp layernorm and residual, no bias',
         mlp([{'units': 4, 'activation': 'gelu_tanh'}, {'units': 3, 'activation': 'elu'}, {'units': 3, 'activation': 'selu'},
              {'units': 2}], norm='layernorm', residual=True, bias=False), X, targets=T, loss={'type': 'mse'})
    case('mlp activations with attrs',
         mlp([{'units': 5, 'activation': {'type': 'leaky_relu', 'negativeSlope': 0.1}},
              {'units': 5, 'activation': {'type': 'elu', 'alpha': 0.5}},
              {'units': 3, 'activation': {'type': 'softplus', 'beta': 2}}, {'units': 2, 'activation': 'softsign'}]),
         X, targets=T, loss={'type': 'huber', 'delta': 0.1})
    case('mlp huber default delta', mlp(layers), X, targets=T * 3, loss={'type': 'huber'})
    case('mlp bce (sigmoid output)', mlp([{'units': 5, 'activation': 'tanh'}, {'units': 2, 'activation': 'sigmoid'}]),
         X, targets=rnd(5, 2, lo=0, hi=1), loss={'type': 'bce'})
    case('mlp bce_with_logits sum', mlp([{'units': 5, 'activation': 'relu'}, {'units': 2}]),
         X, targets=rnd(5, 2, lo=0, hi=1), loss={'type': 'bce_with_logits', 'reduction': 'sum'}, encoding='base64')
    cls = [{'units': 6, 'activation': 'tanh'}, {'units': 3}]
    case('mlp cross_entropy class indices', mlp(cls), X, targets=classes(5, 3), loss={'type': 'cross_entropy'})
    case('mlp cross_entropy probabilities, label smoothing 0.1', mlp(cls), X, targets=probs(5, 3),
         loss={'type': 'cross_entropy', 'labelSmoothing': 0.1})
    case('mlp cross_entropy class indices, label smoothing 0.25, sum', mlp(cls), X, targets=classes(5, 3),
         loss={'type': 'cross_entropy', 'labelSmoothing': 0.25, 'reduction': 'sum'}, float32=True)
    case('mlp nll on raw outputs', mlp(cls), X, targets=classes(5, 3), loss={'type': 'nll'})
    case('mlp outputGrad (VJP of [5, 3], base64 tensors)',
         mlp([{'units': 6, 'activation': 'silu'}, {'units': 3, 'activation': 'sigmoid'}]), X, output_grad=rnd(5, 3),
         encoding='base64')


# ---- scaled_dot_product_attention (torch 1.13 has no F.scaled_dot_product_attention: composed here) ----

def attention(xs, a):
    """torch 2's F.scaled_dot_product_attention from matmul and softmax, with gradserve's choice for a
    query whose keys are all masked out: zeros and no gradient, where torch gives NaN."""
    q, k, v = xs[:3]
    L, S = q.shape[-2], k.shape[-2]
    s = q @ k.transpose(-2, -1) * a.get('scale', 1 / math.sqrt(q.shape[-1]))
    if len(xs) > 3:
        s = s + xs[3] if a.get('maskType', 'boolean') == 'additive' else s.masked_fill(xs[3] == 0, -math.inf)
    if a.get('causal', False):
        s = s.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), -math.inf)
    keep = ~torch.isinf(s).all(dim=-1, keepdim=True)
    return (torch.softmax(torch.where(keep, s, torch.zeros(())), dim=-1) * keep) @ v


OPS['scaled_dot_product_attention'] = attention


def attention_cases():
    p = {'q': rnd(2, 3, 4, 5, lo=-2, hi=2), 'k': rnd(2, 3, 6, 5, lo=-2, hi=2), 'v': rnd(2, 3, 6, 4)}
    case('attention [B, H, L, E]', graph([
        n('y', 'scaled_dot_product_attention', 'q', 'k', 'v'), n('w', 'mul', 'y', 'c'), n('L', 'sum', 'w'),
    ], 'L', params=shapes(**p), constants={'c': rnd(2, 3, 4, 4).tolist()}), {}, p, float32=True)

    # key padding [B, 1, 1, S] with causal: batch 1 masks key 0, so its query 0 sees no key (zeros)
    p = {'q': rnd(2, 2, 4, 3, lo=-2, hi=2), 'k': rnd(2, 2, 4, 3, lo=-2, hi=2), 'v': rnd(2, 2, 4, 3)}
    pad = torch.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]]).reshape(2, 1, 1, 4)
    case('attention causal with a boolean key padding mask, a fully masked query', graph([
        n('y', 'scaled_dot_product_attention', 'q', 'k', 'v', 'm', causal=True), n('s', 'sin', 'y'), n('L', 'sum', 's'),
    ], 'L', inputs=['m'], params=shapes(**p)), {'m': pad}, p, index_inputs=['m'])

    # k and v shared by every batch, an additive mask that is trained, a custom scale
    p = {'q': rnd(3, 2, 4, lo=-2, hi=2), 'k': rnd(5, 4, lo=-2, hi=2), 'v': rnd(1, 5, 3), 'b': rnd(2, 5, lo=-2, hi=1)}
    case('attention with broadcast k and v, a trained additive mask, scale 0.8', graph([
        n('y', 'scaled_dot_product_attention', 'q', 'k', 'v', 'b', maskType='additive', scale=0.8),
        n('s', 'square', 'y'), n('L', 'mean', 's'),
    ], 'L', params=shapes(**p)), {}, p, float32=True)

    # one self-attention layer as a model writes it: heads split by reshape/transpose, merged back
    B, T, D, H = 2, 4, 6, 2
    p = {'Wq': rnd(D, D), 'Wk': rnd(D, D), 'Wv': rnd(D, D), 'Wo': rnd(5, D), 'bo': rnd(5)}
    heads = lambda i, src: [n(f'{i}r', 'linear', 'x', src), n(f'{i}h', 'reshape', f'{i}r', shape=[B, T, H, D // H]),
                            n(i, 'transpose', f'{i}h', perm=[0, 2, 1, 3])]
    case('self-attention layer: heads by reshape/transpose, causal, cross_entropy', graph([
        *heads('q', 'Wq'), *heads('k', 'Wk'), *heads('v', 'Wv'),
        n('a', 'scaled_dot_product_attention', 'q', 'k', 'v', causal=True),
        n('at', 'transpose', 'a', perm=[0, 2, 1, 3]), n('m', 'reshape', 'at', shape=[B * T, D]),
        n('z', 'linear', 'm', 'Wo', 'bo'), n('L', 'cross_entropy_loss', 'z', 'c'),
    ], 'L', inputs=['x', 'c'], params=shapes(**p)), {'x': rnd(B, T, D, lo=-2, hi=2), 'c': classes(B * T, 5)}, p,
        index_inputs=['c'], float32=True)

    # the OpenAPI example's model (src/routes/shared/examples.ts, transformerBlock) at its size, but for k's
    # bias: it shifts each row of scores by a constant, which softmax ignores, so its gradient is 0 and
    # both sides give only roundoff (~1e-17) that no relative tolerance can compare
    B, T, D, H, HID, V = 2, 4, 8, 2, 16, 11
    p = {'embed.weight': rnd(V, D, lo=-2, hi=2), 'pos.weight': rnd(T, D)}
    for name, out, inp in [('q', D, D), ('k', D, D), ('v', D, D), ('proj', D, D), ('fc1', HID, D), ('fc2', D, HID), ('head', V, D)]:
        p[f'{name}.weight'], p[f'{name}.bias'] = rnd(out, inp, lo=-0.6, hi=0.6), rnd(out, lo=-0.2, hi=0.2)
    del p['k.bias']
    for name in ['ln1', 'ln2']:
        p[f'{name}.weight'], p[f'{name}.bias'] = rnd(D, lo=0.5, hi=1.5), rnd(D, lo=-0.2, hi=0.2)

    def split(i):
        bias = [f'{i}.bias'] if f'{i}.bias' in p else []
        return [n(i, 'linear', 'h1', f'{i}.weight', *bias), n(f'{i}s', 'reshape', i, shape=[B, T, H, D // H]),
                n(f'{i}h', 'transpose', f'{i}s', perm=[0, 2, 1, 3])]
    tokens = torch.tensor([[3.0, 1.0, 4.0, 1.0], [5.0, 9.0, 2.0, 6.0]])
    case('one-block transformer language model (the OpenAPI example\'s graph, k without bias), ignoreIndex', graph([
        n('e', 'embedding', 'tokens', 'embed.weight'), n('x', 'add', 'e', 'pos.weight'),
        n('h1', 'layernorm', 'x', 'ln1.weight', 'ln1.bias'), *split('q'), *split('k'), *split('v'),
        n('att', 'scaled_dot_product_attention', 'qh', 'kh', 'vh', causal=True),
        n('merged', 'transpose', 'att', perm=[0, 2, 1, 3]), n('m', 'reshape', 'merged', shape=[B, T, D]),
        n('o', 'linear', 'm', 'proj.weight', 'proj.bias'), n('r1', 'add', 'x', 'o'),
        n('h2', 'layernorm', 'r1', 'ln2.weight', 'ln2.bias'), n('f1', 'linear', 'h2', 'fc1.weight', 'fc1.bias'),
        n('g', 'gelu', 'f1'), n('f2', 'linear', 'g', 'fc2.weight', 'fc2.bias'), n('r2', 'add', 'r1', 'f2'),
        n('logits', 'linear', 'r2', 'head.weight', 'head.bias'), n('flat', 'reshape', 'logits', shape=[B * T, V]),
        n('loss', 'cross_entropy_loss', 'flat', 'c'),
    ], 'loss', inputs=['tokens', 'c'], params=shapes(**p)),
        {'tokens': tokens, 'c': torch.tensor([1.0, 4.0, 1.0, -100.0, 9.0, 2.0, 6.0, -100.0])}, p,
        index_inputs=['tokens', 'c'], float32=True)


# ---- issue 18, indexing and selection (branch ops-index): class weights and ignoreIndex, embedding, gather,
# index_select, where, masked_fill, expand, cumsum. Index tensors reach torch as float64 and are taken
# .long() by the op that reads them; `int64_inputs` sends them as base64 int64, the integer wire form.

def class_weight(a, w):
    """The weights: the op's third input, or the loss spec's `weight` list."""
    return torch.tensor(a['weight']) if w is None and 'weight' in a else w


def cross_entropy(x, t, a, w=None):
    w = class_weight(a, w)
    return F.cross_entropy(x, class_target(x, t), weight=w, reduction=a.get('reduction', 'mean'),
                           label_smoothing=a.get('labelSmoothing', 0.0), ignore_index=a.get('ignoreIndex', -100))


def nll(x, t, a, w=None):
    w = class_weight(a, w)
    return F.nll_loss(x, t.long(), weight=w, reduction=a.get('reduction', 'mean'), ignore_index=a.get('ignoreIndex', -100))


LOSSES.update({'cross_entropy_loss': cross_entropy, 'nll_loss': nll})
OPS.update({'cross_entropy_loss': lambda xs, a: cross_entropy(xs[0], xs[1], a, *xs[2:]),
            'nll_loss': lambda xs, a: nll(xs[0], xs[1], a, *xs[2:])})


def int64_inputs(*names):
    """Rewrites the last case's named inputs as base64 int64 tensors."""
    inputs = CASES[-1]['request']['inputs']
    for name in names:
        t = torch.tensor(inputs[name]) if isinstance(inputs[name], list) else torch.tensor(inputs[name]['data'])
        raw = t.to(torch.int64).numpy().astype('<i8').tobytes()
        inputs[name] = {'shape': list(t.shape), 'dtype': 'int64', 'base64': base64.b64encode(raw).decode('ascii')}


def with_ignored(t, every=3, value=-100):
    t = t.clone()
    t.view(-1)[::every] = value
    return t


def index_loss_cases():
    w = rnd(5, lo=0.2, hi=2)
    x = rnd(6, 5, lo=-2, hi=2)
    c = with_ignored(classes(6, 5))
    for red in ['mean', 'sum']:
        for ls in [0.0, 0.2]:
            tag = f' label smoothing {ls}' if ls else ''
            attrs = {'labelSmoothing': ls} if ls else {}
            case(f'cross_entropy_loss weight and ignoreIndex{tag} {red}', graph([
                n('z', 'mul', 'x', 'k'), n('L', 'cross_entropy_loss', 'z', 'c', 'w', reduction=red, **attrs),
            ], 'L', inputs=['x', 'c'], params={'k': [5]}, constants={'w': w.tolist()}), {'x': x, 'c': c},
                {'k': rnd(5, lo=0.5, hi=1.5)}, index_inputs=['c'], float32=(ls > 0 and red == 'mean'))
        case(f'nll_loss weight and ignoreIndex 2 {red}', graph([
            n('lp', 'log_softmax', 'x', axis=1), n('L', 'nll_loss', 'lp', 'c', 'w', reduction=red, ignoreIndex=2),
        ], 'L', inputs=['x', 'c'], constants={'w': w.tolist()}), {'x': x, 'c': classes(6, 5)}, index_inputs=['c'])
    case('cross_entropy_loss probabilities with weight, label smoothing 0.1', graph([
        n('L', 'cross_entropy_loss', 'x', 'q', 'w', labelSmoothing=0.1),
    ], 'L', inputs=['x', 'q'], constants={'w': w.tolist()}), {'x': x, 'q': probs(6, 5)})
    case('cross_entropy_loss [N, C, d] ignoreIndex -1, weight, int64 targets', graph([
        n('z', 'mul', 'x', 'k'), n('L', 'cross_entropy_loss', 'z', 'c', 'w', ignoreIndex=-1, labelSmoothing=0.1),
    ], 'L', inputs=['x', 'c'], params={'k': [3]}, constants={'w': w.tolist()}),
        {'x': rnd(2, 5, 3, lo=-2, hi=2), 'c': with_ignored(classes(2, 5, 3), 2, -1)}, {'k': rnd(3, lo=0.5, hi=1.5)},
        index_inputs=['c'], float32=True)
    int64_inputs('c')
    case('mlp cross_entropy ignoreIndex (the loss spec)', mlp([{'units': 6, 'activation': 'tanh'}, {'units': 3}]),
         rnd(5, 4, lo=-2, hi=2), targets=with_ignored(classes(5, 3), 2), loss={'type': 'cross_entropy', 'ignoreIndex': -100})
    case('mlp nll ignoreIndex 1 sum (the loss spec)', mlp([{'units': 3}]), rnd(5, 4, lo=-2, hi=2),
         targets=classes(5, 3), loss={'type': 'nll', 'ignoreIndex': 1, 'reduction': 'sum'})
    case('mlp cross_entropy with class weights, ignoreIndex and label smoothing (the loss spec)',
         mlp([{'units': 6, 'activation': 'tanh'}, {'units': 3}]), rnd(5, 4, lo=-2, hi=2), targets=with_ignored(classes(5, 3), 2),
         loss={'type': 'cross_entropy', 'weight': [0.5, 2.0, 1.25], 'labelSmoothing': 0.1}, float32=True)


def masked_value(v):
    return {'inf': float('inf'), '-inf': float('-inf')}.get(v, v)


OPS.update({
    'embedding': lambda xs, a: F.embedding(xs[0].long(), xs[1], padding_idx=a.get('paddingIdx')),
    'gather': lambda xs, a: torch.gather(xs[0], a['axis'], xs[1].long()),
    'index_select': lambda xs, a: torch.index_select(xs[0], a['axis'], xs[1].long()),
    'where': lambda xs, a: torch.where(xs[0].bool(), xs[1], xs[2]),
    'masked_fill': lambda xs, a: torch.masked_fill(xs[0], xs[1].bool(), masked_value(a['value'])),
    'expand': lambda xs, a: xs[0].expand(*a['shape']),
    'broadcast_to': lambda xs, a: torch.broadcast_to(xs[0], a['shape']),
    'cumsum': lambda xs, a: torch.cumsum(xs[0], a['axis']),
})


def embedding_cases():
    p = {'E': rnd(6, 4)}
    ids = torch.tensor([[1.0, 3.0, 3.0, 0.0], [5.0, 1.0, 2.0, 3.0]])
    # a tiny language model with tied weights: embed, project back onto the same table, predict the
    # next id; the last position of each row has no next id (ignoreIndex)
    nxt = torch.tensor([3.0, 3.0, 0.0, -100.0, 1.0, 2.0, 3.0, -100.0])
    case('embedding tied to the output projection, next-id cross_entropy with ignoreIndex, int64 ids', graph([
        n('h', 'embedding', 'ids', 'E'), n('hf', 'reshape', 'h', shape=[8, 4]), n('t', 'tanh', 'hf'),
        n('z', 'linear', 't', 'E'), n('L', 'cross_entropy_loss', 'z', 'next'),
    ], 'L', inputs=['ids', 'next'], params=shapes(**p)), {'ids': ids, 'next': nxt}, p, index_inputs=['ids', 'next'],
        float32=True)
    int64_inputs('ids', 'next')
    p = {'E': rnd(5, 3)}
    case('embedding with paddingIdx and repeated ids', graph([
        n('h', 'embedding', 'ids', 'E', paddingIdx=-1), n('s', 'square', 'h'), n('w', 'mul', 's', 'k'), n('L', 'sum', 'w'),
    ], 'L', inputs=['ids'], params=shapes(**p), constants={'k': rnd(3, 2, 3).tolist()}),
        {'ids': torch.tensor([[4.0, 2.0], [2.0, 0.0], [4.0, 4.0]])}, p, index_inputs=['ids'])


def selection_cases():
    p = {'X': rnd(3, 4, lo=-2, hi=2), 'Y': rnd(2, 3, 2, lo=-2, hi=2)}
    case('gather along axes 1 and 0 with repeats, index_select with repeats, int64 indices', graph([
        n('a', 'gather', 'X', 'i', axis=1), n('b', 'gather', 'Y', 'j', axis=-3), n('c', 'index_select', 'X', 'k', axis=1),
        n('d', 'index_select', 'Y', 'k0', axis=1), n('as', 'square', 'a'), n('bs', 'sin', 'b'), n('cs', 'square', 'c'),
        n('ds', 'tanh', 'd'), n('s1', 'sum', 'as'), n('s2', 'sum', 'bs'), n('s3', 'mean', 'cs'), n('s4', 'sum', 'ds'),
        n('t1', 'add', 's1', 's2'), n('t2', 'add', 't1', 's3'), n('L', 'add', 't2', 's4'),
    ], 'L', inputs=['i', 'j', 'k', 'k0'], params=shapes(**p)),
        {'i': torch.tensor([[0.0, 3.0, 3.0], [1.0, 1.0, 0.0]]), 'j': torch.tensor([[[1.0, 0.0], [1.0, 1.0]]]),
         'k': torch.tensor([3.0, 0.0, 3.0, 2.0]), 'k0': torch.tensor(2.0)}, p, index_inputs=['i', 'j', 'k', 'k0'], float32=True)
    int64_inputs('i', 'k')

    p = {'A': rnd(3, 4, lo=-2, hi=2), 'B': rnd(4, lo=-2, hi=2)}
    cond = torch.tensor([[1.0], [0.0], [2.0]])
    case('where with broadcasting, masked_fill with a mask broadcast over rows', graph([
        n('w', 'where', 'cond', 'A', 'B'), n('m', 'masked_fill', 'A', 'mask', value=0.5), n('f', 'where', 'cond', 'B', -1),
        n('ws', 'square', 'w'), n('ms', 'sin', 'm'), n('fs', 'square', 'f'), n('p1', 'mul', 'ws', 'ms'),
        n('s1', 'sum', 'p1'), n('s2', 'sum', 'fs'), n('L', 'add', 's1', 's2'),
    ], 'L', inputs=['cond', 'mask'], params=shapes(**p)),
        {'cond': cond, 'mask': torch.tensor([0.0, 1.0, 0.0, 1.0])}, p, index_inputs=['cond', 'mask'])

    p = {'S': rnd(3, 3, lo=-2, hi=2), 'V': rnd(3, 2)}
    case('causal attention by hand: masked_fill "-inf" above the diagonal, softmax, matmul', graph([
        n('m', 'masked_fill', 'S', 'upper', value='-inf'), n('a', 'softmax', 'm', axis=-1), n('o', 'matmul', 'a', 'V'),
        n('os', 'square', 'o'), n('L', 'sum', 'os'),
    ], 'L', params=shapes(**p), constants={'upper': torch.triu(torch.ones(3, 3), diagonal=1).tolist()}), {}, p,
        float32=True)

    p = {'X': rnd(3, 1, lo=-2, hi=2), 'Z': rnd(1, 4, lo=-2, hi=2)}
    case('expand and broadcast_to with -1 and new leading dims, cumsum along two axes', graph([
        n('e', 'expand', 'X', shape=[2, -1, 4]), n('b', 'broadcast_to', 'Z', shape=[3, -1]), n('c', 'cumsum', 'e', axis=-1),
        n('d', 'cumsum', 'b', axis=0), n('cd', 'mul', 'c', 'd'), n('w', 'mul', 'cd', 'k'), n('L', 'sum', 'w'),
    ], 'L', params=shapes(**p), constants={'k': rnd(2, 3, 4).tolist()}), {}, p, float32=True)


def zero_dim_reduction_cases():
    p = {'s': rnd(), 'u': rnd()}
    case('reductions of a 0-d tensor over axis 0 and -1', graph([
        n('a', 'sum', 's', axes=0), n('b', 'mean', 's', axes=[-1], keepdims=True), n('c', 'max', 'u', axes=-1),
        n('d', 'logsumexp', 'u', axes=[0]), n('ab', 'mul', 'a', 'b'), n('cd', 'mul', 'c', 'd'), n('L', 'add', 'ab', 'cd'),
    ], 'L', params=shapes(**p)), {}, p)


def index_cases():
    GEN.manual_seed(18)  # this section's values do not depend on the sections before it
    index_loss_cases()
    embedding_cases()
    selection_cases()
    zero_dim_reduction_cases()

def conv_cases():
    # the small CNN of the README and the OpenAPI examples: conv → relu → max_pool → flatten → linear → cross_entropy
    x = rnd(2, 1, 6, 6)
    p = {'K': rnd(3, 1, 3, 3), 'kb': rnd(3), 'W': rnd(4, 12), 'b': rnd(4)}
    case('small CNN: conv2d, relu, max_pool2d, flatten, linear, cross_entropy', graph([
        n('c', 'conv2d', 'x', 'K', 'kb', padding=1), n('r', 'relu', 'c'), n('m', 'max_pool2d', 'r', kernelSize=3),
        n('f', 'flatten', 'm', startDim=1), n('z', 'linear', 'f', 'W', 'b'), n('L', 'cross_entropy_loss', 'z', 'y'),
    ], 'L', inputs=['x', 'y'], params=shapes(**p)), {'x': x, 'y': classes(2, 4)}, p, index_inputs=['y'], float32=True)

    x = rnd(2, 4, 7, 6, lo=-2, hi=2)
    p = {'A': rnd(6, 2, 3, 2), 'ab': rnd(6), 'D': rnd(8, 1, 3, 3), 'E': rnd(3, 8, 2, 3)}
    case('conv2d stride/padding pairs/dilation/groups, depthwise "same", "valid", no bias', graph([
        n('a', 'conv2d', 'x', 'A', 'ab', stride=[2, 1], padding=[1, 2], dilation=[1, 2], groups=2),   # [2, 6, 4, 4]
        n('d', 'conv2d', 'x', 'D', groups=4, padding='same', dilation=2),                          # [2, 8, 7, 6]
        n('e', 'conv2d', 'd', 'E', padding='valid', stride=2),                                     # [2, 3, 3, 2]
        n('as', 'sin', 'a'), n('es', 'square', 'e'), n('l1', 'sum', 'as'), n('l2', 'mean', 'es'), n('L', 'add', 'l1', 'l2'),
    ], 'L', inputs=['x'], params=shapes(**p)), {'x': x}, p, float32=True)

    p = {'x': rnd(3, 5, 6), 'K': rnd(4, 3, 4, 4), 'kb': rnd(4)}
    case('conv2d unbatched, even kernel "same" (the odd zero after)', graph([
        n('c', 'conv2d', 'x', 'K', 'kb', padding='same'), n('t', 'tanh', 'c'), n('L', 'sum', 't'),
    ], 'L', params=shapes(**p)), {}, p)

    x = rnd(2, 4, 11)
    p = {'A': rnd(6, 4, 3), 'ab': rnd(6), 'B': rnd(6, 3, 4)}
    case('conv1d stride, padding, dilation, groups, "same" with an even kernel', graph([
        n('a', 'conv1d', 'x', 'A', 'ab', stride=2, padding=[2], dilation=2),    # [2, 6, 5]
        n('b', 'conv1d', 'a', 'B', groups=2, padding='same'),                    # [2, 6, 5]
        n('s', 'sigmoid', 'b'), n('L', 'sum', 's'),
    ], 'L', inputs=['x'], params=shapes(**p)), {'x': x}, p, float32=True)

    # ties in windows (the whole gradient to the first), windows overlapping, partial ceilMode windows
    t = torch.tensor([[1.0, 3, 3, 0, 2, 1], [4, -1, 4, 2, 2, 0], [0, 5, 1, 1, -3, 5], [2, 2, 0, 6, 1, 6], [1, 1, 1, 1, 0, 2]])
    x = torch.stack([t, -t]).reshape(1, 2, 5, 6)
    case('max_pool2d ties, overlap, padding, dilation, ceilMode', graph([
        n('a', 'max_pool2d', 'x', kernelSize=2, ceilMode=True),                          # [1, 2, 3, 3]
        n('b', 'max_pool2d', 'x', kernelSize=3, stride=[2, 1], padding=1),                # [1, 2, 3, 6]
        n('c', 'max_pool2d', 'x', kernelSize=[2, 3], stride=1, dilation=[2, 1], padding=[1, 1], ceilMode=True),
        n('af', 'flatten', 'a'), n('bf', 'flatten', 'b'), n('cf', 'flatten', 'c'),
        n('cat', 'concat', 'af', 'bf', 'cf'), n('w', 'mul', 'cat', 'k'), n('L', 'sum', 'w'),
    ], 'L', inputs=['x'], constants={'k': rnd(18 + 36 + 60).tolist()}), {'x': x})

    p = {'X': rnd(2, 3, 5, 7, lo=-2, hi=2)}
    case('avg_pool2d padding, ceilMode, countIncludePad, divisorOverride; adaptive_avg_pool2d; flatten dims', graph([
        n('a', 'avg_pool2d', 'X', kernelSize=3, stride=2, padding=1, ceilMode=True),                         # [2, 3, 3, 4]
        n('b', 'avg_pool2d', 'X', kernelSize=[3, 2], stride=[2, 3], padding=[1, 1], ceilMode=True, countIncludePad=False),
        n('c', 'avg_pool2d', 'X', kernelSize=2, divisorOverride=3),                                          # [2, 3, 2, 3]
        n('d', 'adaptive_avg_pool2d', 'X', outputSize=[3, 4]), n('e', 'adaptive_avg_pool2d', 'X', outputSize=1),
        n('f', 'adaptive_avg_pool2d', 'X', outputSize=[None, 2]),
        n('as', 'square', 'a'), n('bs', 'sin', 'b'), n('cs', 'exp', 'c'), n('ds', 'square', 'd'), n('es', 'tanh', 'e'),
        n('fs', 'cos', 'f'), n('af', 'flatten', 'as', startDim=1, endDim=2), n('ef', 'flatten', 'es', startDim=-3),
        n('l1', 'sum', 'af'), n('l2', 'sum', 'bs'), n('l3', 'mean', 'cs'), n('l4', 'sum', 'ds'), n('l5', 'sum', 'ef'),
        n('l6', 'sum', 'fs'),
        n('t1', 'add', 'l1', 'l2'), n('t2', 'add', 't1', 'l3'), n('t3', 'add', 't2', 'l4'), n('t4', 'add', 't3', 'l5'),
        n('L', 'add', 't4', 'l6'),
    ], 'L', params=shapes(**p)), {}, p, float32=True)


def main():
    torch.manual_seed(0)  # nn.Linear's init (the MLPs' weights) draws from the global generator
    elementwise_cases()
    activation_cases()
    kink_cases()
    linalg_cases()
    shape_cases()
    reduction_cases()
    probability_cases()
    norm_cases()
    loss_cases()
    edge_cases()
    output_grad_cases()
    mlp_cases()
    attention_cases()
    index_cases()
    conv_cases()
    names = [c['name'] for c in CASES]
    assert len(set(names)) == len(names), 'case names must be unique'
    with open(OUT, 'w') as f:
        f.write('{"generator": "scripts/gen-torch-parity.py", "torch": %s, "cases": [\n' % json.dumps(torch.__version__))
        f.write(',\n'.join(json.dumps(c, separators=(',', ':'), allow_nan=False) for c in CASES))
        f.write('\n]}\n')
    print(f'wrote {len(CASES)} cases ({os.path.getsize(OUT)} bytes) to {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()

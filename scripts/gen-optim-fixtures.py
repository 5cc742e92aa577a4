#!/usr/bin/env python3
"""Writes test/fixtures/optim/torch-optim.json: three chained torch.optim steps for each optimizer
configuration, and torch.nn.utils.clip_grad_norm_ results, for the TypeScript tests to replay without
PyTorch.

Run with a Python that has torch (Debian: apt-get install python3-torch; /usr/bin/python3):
    /usr/bin/python3 scripts/gen-optim-fixtures.py
The configs are written in the service's camelCase and translated to torch's keyword arguments here.
Every optimizer runs its single-tensor path (foreach=False), the one the service mirrors.
"""
import json
import os
import re

import torch
from torch.nn.utils import clip_grad_norm_

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'optim', 'torch-optim.json')

TORCH = {
    'sgd': torch.optim.SGD,
    'adam': torch.optim.Adam,
    'adamw': torch.optim.AdamW,
    'rmsprop': torch.optim.RMSprop,
    'adagrad': torch.optim.Adagrad,
}

# Two small tensors; the gradients change sign and size between steps, include exact zeros, and
# shrink at step 3 so that AMSGrad's running maximum differs from exp_avg_sq.
PARAMS = {
    'w': [[0.5, -1.2, 0.0], [2.0, 0.3, -0.7]],
    'b': [0.1, -0.4, 0.25],
}
GRADS = [
    {'w': [[0.3, -0.8, 0.0], [1.5, -0.02, 0.6]], 'b': [0.9, 0.0, -0.35]},
    {'w': [[-0.1, -0.6, 0.2], [0.7, 0.05, -1.1]], 'b': [0.4, -0.2, 0.1]},
    {'w': [[0.01, 0.3, -0.05], [0.02, 0.0, 0.1]], 'b': [-0.05, 0.02, 0.0]},
]

CONFIGS = [
    ('sgd plain', {'type': 'sgd', 'lr': 0.1}),
    ('sgd momentum', {'type': 'sgd', 'lr': 0.1, 'momentum': 0.9}),
    ('sgd momentum dampening', {'type': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'dampening': 0.5}),
    ('sgd nesterov', {'type': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'nesterov': True}),
    ('sgd weight decay', {'type': 'sgd', 'lr': 0.1, 'weightDecay': 0.1}),
    ('sgd nesterov weight decay', {'type': 'sgd', 'lr': 0.05, 'momentum': 0.8, 'weightDecay': 0.01, 'nesterov': True}),
    ('adam defaults', {'type': 'adam'}),
    ('adam betas eps weight decay', {'type': 'adam', 'lr': 0.01, 'betas': [0.8, 0.99], 'eps': 1e-6, 'weightDecay': 0.1}),
    ('adam amsgrad', {'type': 'adam', 'lr': 0.01, 'amsgrad': True}),
    ('adamw defaults', {'type': 'adamw'}),
    ('adamw weight decay', {'type': 'adamw', 'lr': 0.01, 'weightDecay': 0.1}),
    ('adamw amsgrad', {'type': 'adamw', 'lr': 0.01, 'weightDecay': 0.1, 'amsgrad': True}),
    ('rmsprop defaults', {'type': 'rmsprop'}),
    ('rmsprop centered', {'type': 'rmsprop', 'centered': True}),
    ('rmsprop momentum', {'type': 'rmsprop', 'momentum': 0.9}),
    ('rmsprop weight decay', {'type': 'rmsprop', 'weightDecay': 0.1}),
    ('rmsprop centered momentum alpha', {'type': 'rmsprop', 'lr': 0.001, 'alpha': 0.9, 'centered': True, 'momentum': 0.5}),
    ('adagrad defaults', {'type': 'adagrad'}),
    ('adagrad lr decay initial accumulator', {'type': 'adagrad', 'lrDecay': 0.1, 'initialAccumulatorValue': 0.5}),
    ('adagrad weight decay eps', {'type': 'adagrad', 'lr': 0.1, 'weightDecay': 0.1, 'eps': 1e-6}),
    ('sgd maximize nesterov weight decay', {'type': 'sgd', 'lr': 0.05, 'momentum': 0.8, 'weightDecay': 0.01, 'nesterov': True, 'maximize': True}),
    ('adam maximize amsgrad weight decay', {'type': 'adam', 'lr': 0.01, 'weightDecay': 0.1, 'amsgrad': True, 'maximize': True}),
    ('adamw maximize', {'type': 'adamw', 'lr': 0.01, 'weightDecay': 0.1, 'maximize': True}),
    ('rmsprop maximize centered momentum weight decay', {'type': 'rmsprop', 'centered': True, 'momentum': 0.5, 'weightDecay': 0.1, 'maximize': True}),
    ('adagrad maximize weight decay', {'type': 'adagrad', 'lr': 0.1, 'weightDecay': 0.1, 'maximize': True}),
]

# float32 runs check that storing each result in float32 stays within float32 rounding of torch.
FLOAT32 = ['sgd nesterov weight decay', 'adam amsgrad', 'adamw defaults', 'rmsprop centered momentum alpha',
           'adagrad lr decay initial accumulator']


def snake(key):
    return re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), key)


def encode(t):
    return {'shape': list(t.shape), 'data': t.detach().reshape(-1).tolist()}


def encode_state(state):
    out = {}
    for key, value in state.items():
        if value is None:
            continue  # SGD without momentum stores momentum_buffer = None
        if key == 'step':
            out[key] = int(value.item() if torch.is_tensor(value) else value)
        else:
            out[key] = encode(value)
    return out


def run_case(name, config, dtype):
    kwargs = {snake(k): v for k, v in config.items() if k != 'type'}
    if 'betas' in kwargs:
        kwargs['betas'] = tuple(kwargs['betas'])
    params = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in PARAMS.items()}
    opt = TORCH[config['type']](list(params.values()), foreach=False, **kwargs)
    steps = []
    for grads in GRADS:
        for k, p in params.items():
            p.grad = torch.tensor(grads[k], dtype=dtype)
        opt.step()
        steps.append({
            'grads': {k: encode(torch.tensor(v, dtype=dtype)) for k, v in grads.items()},
            'params': {k: encode(p) for k, p in params.items()},
            'state': {k: encode_state(opt.state[p]) for k, p in params.items()},
        })
    return {
        'name': name,
        'dtype': 'float64' if dtype == torch.float64 else 'float32',
        'config': config,
        'params': {k: encode(torch.tensor(v, dtype=dtype)) for k, v in PARAMS.items()},
        'steps': steps,
    }


CLIP_GRADS = {'a': [[3.0, 4.0], [0.0, -1.0]], 'b': [2.0, -2.0, 1.0]}
CLIP_CASES = [(1.0, 2.0), (100.0, 2.0), (6.0, 2.0), (2.0, float('inf')), (5.0, 1.0), (3.0, 3.0), (0.0, 2.0)]


def clip_case(max_norm, norm_type):
    grads = {k: torch.tensor(v, dtype=torch.float64) for k, v in CLIP_GRADS.items()}
    params = {k: torch.zeros_like(g, requires_grad=True) for k, g in grads.items()}
    for k, p in params.items():
        p.grad = grads[k].clone()
    total = clip_grad_norm_(list(params.values()), max_norm, norm_type)
    return {
        'maxNorm': max_norm,
        'normType': 'inf' if norm_type == float('inf') else norm_type,  # JSON has no Infinity
        'grads': {k: encode(g) for k, g in grads.items()},
        'totalNorm': total.item(),
        'clipped': {k: encode(p.grad) for k, p in params.items()},
    }


def main():
    cases = [run_case(name, config, torch.float64) for name, config in CONFIGS]
    by_name = dict(CONFIGS)
    cases += [run_case(name + ' float32', by_name[name], torch.float32) for name in FLOAT32]
    fixture = {
        'generator': 'scripts/gen-optim-fixtures.py',
        'torch': torch.__version__,
        'optimizers': cases,
        'clipGradNorm': [clip_case(m, p) for m, p in CLIP_CASES],
    }
    with open(OUT, 'w') as f:
        json.dump(fixture, f, indent=1)
        f.write('\n')
    print(f'wrote {len(cases)} optimizer cases and {len(CLIP_CASES)} clip cases to {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()

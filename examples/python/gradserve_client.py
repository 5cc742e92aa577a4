#!/usr/bin/env python3
"""A gradserve client in Python with numpy only: safetensors both ways (docs/binary.md), no SDK.

Copy `save`, `load` and `post`; they are the whole client. Run as a script, it posts an MLP's
parameters and batch to /v1/gradients and, where torch is installed, checks the gradients against
torch.nn.functional.cross_entropy on the same weights:

    python3 gradserve_client.py --url http://127.0.0.1:3000            # batch 256, 784-512-512-10
    python3 gradserve_client.py --sizes 32,16,8,4 --batch 8            # a smaller one
"""
import argparse
import json
import struct
import sys
import urllib.error
import urllib.request

import numpy as np

MEDIA_TYPE = "application/vnd.gradserve.safetensors"
# the service also reads BF16 (widened to float32), which numpy has no type for
DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}
NAMES = {t: name for name, t in DTYPES.items()}


def save(tensors, metadata):
    """A safetensors file: {name: ndarray}, metadata {str: str}; data 8-byte aligned, as the reference writer."""
    header, offset = {"__metadata__": metadata}, 0
    arrays = {name: np.ascontiguousarray(a, a.dtype.newbyteorder("<")) for name, a in tensors.items()}
    for name, a in arrays.items():
        header[name] = {"dtype": NAMES[a.dtype.type], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] + [a.tobytes() for a in arrays.values()])


def load(body):
    """({name: ndarray}, metadata) from a safetensors file's bytes."""
    (n,) = struct.unpack_from("<Q", body)
    header = json.loads(body[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    data = memoryview(body)[8 + n :]
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], np.dtype(DTYPES[t["dtype"]]).newbyteorder("<")).reshape(t["shape"])
    return tensors, metadata


def post(url, route, request, tensors, api_key=None):
    """POSTs `request` (the JSON body without its tensors) and `tensors` ({"params/layers.0.weight": ndarray, ...});
    returns the answer's tensors ({"gradients/layers.0.weight": ndarray, ...}) and the rest of its JSON."""
    headers = {"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = save(tensors, {"json": json.dumps(request)})
    req = urllib.request.Request(url.rstrip("/") + route, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req) as res:
            answer, metadata = load(res.read())
    except urllib.error.HTTPError as e:  # application/problem+json, naming the field at fault
        raise RuntimeError(f"{e.code}: {e.read().decode()}") from None
    return answer, json.loads(metadata.get("json", "{}"))


def mlp(sizes, batch, seed=0):
    """The request, and the tensors, of an MLP with ReLU between layers and a cross-entropy loss."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        bound = 1 / np.sqrt(fan_in)  # nn.Linear's initialization
        params[f"layers.{i}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        params[f"layers.{i}.bias"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
    layers = [{"units": n, "activation": "relu"} for n in sizes[1:-1]] + [{"units": sizes[-1]}]
    request = {"model": {"type": "mlp", "inputSize": sizes[0], "layers": layers}, "loss": {"type": "cross_entropy"}}
    tensors = {
        "inputs": rng.standard_normal((batch, sizes[0])).astype(np.float32),
        "targets": rng.integers(0, sizes[-1], batch).astype(np.int64),
        **{f"params/{name}": p for name, p in params.items()},
    }
    return request, tensors, params


def torch_gradients(tensors, params):
    """The loss and gradients torch computes for the same MLP, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    w = {name: torch.tensor(p, requires_grad=True) for name, p in params.items()}
    h = torch.from_numpy(tensors["inputs"].copy())
    n = len(params) // 2
    for i in range(n):
        h = torch.nn.functional.linear(h, w[f"layers.{i}.weight"], w[f"layers.{i}.bias"])
        if i < n - 1:
            h = torch.relu(h)
    loss = torch.nn.functional.cross_entropy(h, torch.from_numpy(tensors["targets"].copy()))
    loss.backward()
    return loss.item(), {name: t.grad.numpy() for name, t in w.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--sizes", default="784,512,512,10", help="layer widths, input first")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--api-key")
    args = parser.parse_args()

    request, tensors, params = mlp([int(s) for s in args.sizes.split(",")], args.batch)
    answer, rest = post(args.url, "/v1/gradients", request, tensors, args.api_key)
    print(f"loss {rest['loss']:.6f}, computed in {rest['timing']['totalMs']:.1f} ms")
    for name in params:
        g = answer[f"gradients/{name}"]
        print(f"  gradients/{name}: {g.dtype} {list(g.shape)}, norm {np.linalg.norm(g):.6f}")

    reference = torch_gradients(tensors, params)
    if reference is None:
        print("torch is not installed: gradients not checked")
        return 0
    loss, grads = reference
    worst = max(float(np.max(np.abs(answer[f"gradients/{k}"] - g)) / (float(np.max(np.abs(g))) + 1e-30)) for k, g in grads.items())
    ok = abs(rest["loss"] - loss) <= 1e-5 * max(1.0, abs(loss)) and worst <= 1e-4
    print(f"torch: loss {loss:.6f}, largest gradient difference {worst:.2e} of the largest element: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

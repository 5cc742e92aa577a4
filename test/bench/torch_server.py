"""The service a user would write instead of gradserve: PyTorch behind FastAPI + uvicorn.

POST /v1/gradients takes gradserve's request body (a graph of a few common ops, or an MLP spec; tensors
nested, flat or base64) and answers in gradserve's form: loss, gradients in options.encoding, the
gradient norms, and the forward/backward times. Only what the bench sends is covered; anything else
is a 422. Run by test/bench/torch-server.ts:

    python3 -m uvicorn torch_server:app --app-dir test/bench --workers 2 --loop uvloop --http httptools

(a module name has underscores: uvicorn imports it in each worker process). PEER_THREADS sets
torch.set_num_threads in each worker; OPENBLAS_NUM_THREADS and OMP_NUM_THREADS are set to match by the
launcher, so that two workers on two cores do not oversubscribe them.
"""
import base64
import json
import math
import os
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

torch.set_num_threads(int(os.environ.get("PEER_THREADS", "1")))
# np.frombuffer over the decoded bytes is read-only; the tensors made from it are never written to
# (autograd writes only the gradients), so no copy is made
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")

DTYPES = {"float32": (torch.float32, "<f4"), "float64": (torch.float64, "<f8")}

app = FastAPI()


class BadRequest(Exception):
    pass


def decode(wire, dtype):
    if isinstance(wire, dict):
        if "base64" in wire:
            raw = base64.b64decode(wire["base64"])
            arr = np.frombuffer(raw, dtype=DTYPES[wire.get("dtype", "float32")][1]).reshape(wire["shape"])
            return torch.from_numpy(arr).to(dtype)
        return torch.tensor(wire["data"], dtype=dtype).reshape(wire["shape"])
    return torch.tensor(wire, dtype=dtype)


def encode(t, encoding):
    t = t.detach()
    if encoding == "base64":
        arr = t.numpy().astype(DTYPES["float64" if t.dtype == torch.float64 else "float32"][1], copy=False)
        return {"shape": list(t.shape), "dtype": "float64" if t.dtype == torch.float64 else "float32",
                "base64": base64.b64encode(arr.tobytes()).decode("ascii")}
    if encoding == "flat":
        return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}
    return t.tolist()


def reduction(attrs):
    return (attrs or {}).get("reduction", "mean")


OPS = {
    "add": lambda a, at: a[0] + a[1],
    "sub": lambda a, at: a[0] - a[1],
    "mul": lambda a, at: a[0] * a[1],
    "div": lambda a, at: a[0] / a[1],
    "matmul": lambda a, at: a[0] @ a[1],
    "relu": lambda a, at: torch.relu(a[0]),
    "tanh": lambda a, at: torch.tanh(a[0]),
    "sigmoid": lambda a, at: torch.sigmoid(a[0]),
    "exp": lambda a, at: torch.exp(a[0]),
    "log": lambda a, at: torch.log(a[0]),
    "neg": lambda a, at: -a[0],
    "sum": lambda a, at: a[0].sum(),
    "mean": lambda a, at: a[0].mean(),
    "mse_loss": lambda a, at: F.mse_loss(a[0], a[1], reduction=reduction(at)),
    "cross_entropy": lambda a, at: F.cross_entropy(a[0], a[1].long(), reduction=reduction(at)),
}

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda x: x}


def run_graph(model, params, inputs, dtype):
    values = {name: decode(inputs[name], dtype) for name in model["inputs"]}
    values.update(params)
    pending = list(model["nodes"])
    # nodes may come in any order: evaluate each once its inputs are known
    while pending:
        ready = [n for n in pending if all(i in values for i in n["inputs"])]
        if not ready:
            raise BadRequest("the graph has a cycle or an unknown input")
        for n in ready:
            op = OPS.get(n["op"])
            if op is None:
                raise BadRequest(f"op {n['op']} is not supported here")
            values[n["id"]] = op([values[i] for i in n["inputs"]], n.get("attrs"))
        pending = [n for n in pending if n["id"] not in values]
    return values[model["output"]]


def run_mlp(model, params, x):
    if model.get("norm", "none") != "none" or model.get("residual"):
        raise BadRequest("only plain MLPs are supported here")
    for i, layer in enumerate(model["layers"]):
        x = F.linear(x, params[f"layers.{i}.weight"], params.get(f"layers.{i}.bias"))
        act = layer.get("activation", "relu")
        if act not in ACTIVATIONS:
            raise BadRequest(f"activation {act} is not supported here")
        x = ACTIVATIONS[act](x)
    return x


LOSSES = {"cross_entropy": lambda y, t, r: F.cross_entropy(y, t.long() if t.dim() == 1 else t, reduction=r),
          "mse": lambda y, t, r: F.mse_loss(y, t, reduction=r)}


def gradients(body):
    model = body["model"]
    options = body.get("options", {})
    dtype = DTYPES[options.get("dtype", "float32")][0]
    encoding = options.get("encoding", "nested")
    params = {k: decode(v, dtype).requires_grad_() for k, v in body["params"].items()}
    t0 = time.perf_counter()
    if model["type"] == "graph":
        out = run_graph(model, params, body["inputs"], dtype)
    elif model["type"] == "mlp":
        out = run_mlp(model, params, decode(body["inputs"], dtype))
    else:
        raise BadRequest(f"model type {model['type']} is not supported here")
    loss = body.get("loss")
    if loss is not None:
        if loss["type"] not in LOSSES:
            raise BadRequest(f"loss {loss['type']} is not supported here")
        out = LOSSES[loss["type"]](out, decode(body["targets"], dtype), loss.get("reduction", "mean"))
    t1 = time.perf_counter()
    grads = torch.autograd.grad(out, list(params.values()))
    t2 = time.perf_counter()
    norms = {k: float(torch.linalg.vector_norm(g, dtype=torch.float64)) for k, g in zip(params, grads)}
    return {
        "loss": float(out),
        "gradients": {k: encode(g, encoding) for k, g in zip(params, grads)},
        "diagnostics": {"globalGradNorm": math.sqrt(sum(n * n for n in norms.values())), "gradNorms": norms},
        "timing": {"forwardMs": (t1 - t0) * 1e3, "backwardMs": (t2 - t1) * 1e3},
    }


@app.get("/readyz")
async def readyz():
    # the pid tells the launcher which worker process answered: it waits until each one has
    return {"ready": True, "pid": os.getpid()}


# async and computing inline: a CPU-bound handler in the thread pool would only add hand-offs and GIL
# contention, and each worker process computes one request at a time either way
@app.post("/v1/gradients")
async def post_gradients(request: Request):
    try:
        body = json.loads(await request.body())
        answer = gradients(body)
    except (BadRequest, KeyError, ValueError, TypeError, RuntimeError) as e:
        return JSONResponse({"title": "bad request", "detail": str(e)}, status_code=422,
                            media_type="application/problem+json")
    return Response(json.dumps(answer), media_type="application/json")

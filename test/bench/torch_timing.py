"""Timing shared by the PyTorch peers (torch-mlp.py, torch-cnn.py): median forward and backward time of one
gradient of `model` on (x, t), for each intra-op thread count."""
import statistics
import time

import torch


def time_gradient(model, loss_fn, x, t, threads_list, runs):
    results = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        fwd, bwd, tot = [], [], []
        for i in range(runs + 5):
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            loss = loss_fn(model(x), t)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            if i >= 5:
                fwd.append((t1 - t0) * 1e3)
                bwd.append((t2 - t1) * 1e3)
                tot.append((t2 - t0) * 1e3)
        results.append({
            "threads": threads,
            "forwardMs": statistics.median(fwd),
            "backwardMs": statistics.median(bwd),
            "totalMs": statistics.median(tot),
        })
    return results

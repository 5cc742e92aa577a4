"""The timing loop of the PyTorch peers (torch-mlp.py, torch-cnn.py, torch-transformer.py): for each intra-op thread
count, the medians of forward, backward and their sum over `runs` gradients after 5 unmeasured ones."""
import statistics
import time

import torch


def time_gradients(model, loss_of, threads, runs):
    results = []
    for n in threads:
        torch.set_num_threads(n)
        fwd, bwd, tot = [], [], []
        for i in range(runs + 5):
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            loss = loss_of()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            if i >= 5:
                fwd.append((t1 - t0) * 1e3)
                bwd.append((t2 - t1) * 1e3)
                tot.append((t2 - t0) * 1e3)
        results.append({
            "threads": n,
            "forwardMs": statistics.median(fwd),
            "backwardMs": statistics.median(bwd),
            "totalMs": statistics.median(tot),
        })
    return results

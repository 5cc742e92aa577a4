// Topological order and cycle finding over node indices, without recursion: graphs come from users
// and a 300,000-node chain must not overflow the stack.

export interface Cycle {
  /** the nodes in data-flow order, starting at the lowest index: each feeds the next, the last feeds the first */
  flow: number[];
  /** the input of `flow[0]` that closes the cycle (it names the last node of `flow`) */
  input: number;
}

/**
 * Kahn's algorithm. `pred(i, k)` gives the node producing input k of node i (`arity(i)` inputs), or
 * -1 for a leaf or an unresolved reference. Nodes left over lie on a cycle or downstream of one;
 * only the cycles themselves are reported, one each, each found once.
 */
export function findCycles(n: number, pred: (i: number, k: number) => number, arity: (i: number) => number): { order: number[]; cycles: Cycle[] } {
  // predecessors in CSR form too: inputs of node i at preds[pStart[i] .. pStart[i + 1])
  const pStart = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) pStart[i + 1] = pStart[i]! + arity(i);
  const preds = new Int32Array(pStart[n]!);
  const indeg = new Int32Array(n);
  const outCount = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let k = 0, e = pStart[i]!; e < pStart[i + 1]!; k++, e++) {
      const p = pred(i, k);
      preds[e] = p;
      if (p < 0) continue;
      indeg[i]!++;
      outCount[p]!++;
    }
  }
  const inputs = (i: number) => preds.subarray(pStart[i]!, pStart[i + 1]!);
  // successors in CSR form: succ[start[p] .. start[p + 1]) — one flat array instead of n small ones
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i]! + outCount[i]!;
  const fill = start.slice(0, n);
  const succ = new Int32Array(start[n]!);
  for (let e = 0, i = 0; i < n; i++) for (; e < pStart[i + 1]!; e++) if (preds[e]! >= 0) succ[fill[preds[e]!]!++] = i;

  const order: number[] = [];
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    const p = queue[head]!;
    order.push(p);
    for (let e = start[p]!; e < start[p + 1]!; e++) if (--indeg[succ[e]!]! === 0) queue[tail++] = succ[e]!;
  }
  if (order.length === n) return { order, cycles: [] };
  return { order, cycles: cyclesAmong(n, inputs, indeg, start, succ) };
}

function cyclesAmong(n: number, inputs: (i: number) => Int32Array, indeg: Int32Array, start: Int32Array, succ: Int32Array): Cycle[] {
  // Left after Kahn: cycles and everything downstream of them. Peel off, in reverse, the nodes that
  // feed no other left-over node; what remains lies on a cycle or between two.
  const left = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (indeg[i]! > 0) left[i] = 1;
  const outLeft = new Int32Array(n);
  const stack: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!left[i]) continue;
    for (let e = start[i]!; e < start[i + 1]!; e++) if (left[succ[e]!]) outLeft[i]!++;
    if (outLeft[i] === 0) stack.push(i);
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    left[i] = 0;
    for (const p of inputs(i)) if (p >= 0 && left[p] && --outLeft[p]! === 0) stack.push(p);
  }
  // Every remaining node has an input from another remaining node: walking inputs must close a loop.
  const state = new Uint8Array(n); // 0 unseen, 1 on the current walk, 2 done
  const cycles: Cycle[] = [];
  for (let s = 0; s < n; s++) {
    if (!left[s] || state[s]) continue;
    const walk: number[] = [];
    const via: number[] = [];
    let cur = s;
    while (state[cur] === 0) {
      state[cur] = 1;
      walk.push(cur);
      const k = inputs(cur).findIndex((p) => p >= 0 && left[p] === 1);
      via.push(k);
      cur = inputs(cur)[k]!;
    }
    if (state[cur] === 1) {
      // walk[j] takes input via[j] from walk[j + 1]; reversed, that is the data flow
      const loop = walk.slice(walk.indexOf(cur));
      const loopVia = via.slice(walk.indexOf(cur));
      let b = 0;
      for (let j = 1; j < loop.length; j++) if (loop[j]! < loop[b]!) b = j;
      const flow: number[] = [];
      for (let j = 0; j < loop.length; j++) flow.push(loop[(b - j + loop.length) % loop.length]!);
      cycles.push({ flow, input: loopVia[b]! });
    }
    for (const w of walk) state[w] = 2;
  }
  return cycles;
}

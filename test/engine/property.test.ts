import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/engine/errors.js';
import { GradcheckConfigSchema, gradcheck, gradients } from '../../src/engine/index.js';
import { rand } from '../helpers/op-check.js';
import { graphJob, LIMITS } from './helpers.js';

const SMOOTH_UNARY = ['tanh', 'sigmoid', 'sin', 'cos', 'square', 'neg', 'softplus', 'softsign', 'silu', 'gelu', 'identity'];
// no kinked ops (relu, abs, maximum): a probe point within eps of a kink would fail for the wrong reason
const SMOOTH_BINARY = ['add', 'sub', 'mul'];
const PARAM_SHAPES: Record<string, number[]> = { a: [2, 3], b: [3], c: [], d: [2, 1] };

interface RandomNode {
  op: string;
  /** indices into [params..., earlier nodes...] */
  refs: number[];
}

const nodeArb = fc.oneof(
  fc.record({ op: fc.constantFrom(...SMOOTH_UNARY), refs: fc.tuple(fc.nat()).map((t) => [...t]) }),
  fc.record({ op: fc.constantFrom(...SMOOTH_BINARY), refs: fc.tuple(fc.nat(), fc.nat()).map((t) => [...t]) }),
);

describe('property: random valid graphs of elementwise ops', () => {
  it('pass gradcheck whatever their order in the request', () => {
    const cfg = GradcheckConfigSchema.parse({});
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 1000 }), fc.nat(), (spec: RandomNode[], seed, rot) => {
        const pool = Object.keys(PARAM_SHAPES);
        const nodes = spec.map((n, i) => {
          const node = { id: `n${i}`, op: n.op, inputs: n.refs.map((r) => pool[r % pool.length]!) };
          pool.push(node.id);
          return node;
        });
        nodes.push({ id: 'L', op: 'sum', inputs: [`n${spec.length - 1}`] });
        // list them rotated: the compiler must sort them
        const k = rot % nodes.length;
        const listed = [...nodes.slice(k), ...nodes.slice(0, k)];
        const params = Object.fromEntries(Object.entries(PARAM_SHAPES).map(([name, shape], i) => [name, rand(shape, seed + i)]));
        const job = graphJob(
          { params: Object.fromEntries(Object.entries(PARAM_SHAPES).map(([name, shape]) => [name, { shape }])), nodes: listed, output: 'L' },
          { params },
        );
        const r = gradcheck(job, cfg, LIMITS);
        expect(r.passed, JSON.stringify(r)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

/** Whether the node graph (inputs by node index, -1 for leaves/unknown) has a cycle. */
function hasCycle(inputs: number[][]): boolean {
  const state = new Array<number>(inputs.length).fill(0);
  const visit = (i: number): boolean => {
    if (state[i] === 1) return true;
    if (state[i] === 2) return false;
    state[i] = 1;
    const found = inputs[i]!.some((j) => j >= 0 && visit(j));
    state[i] = 2;
    return found;
  };
  return inputs.some((_, i) => visit(i));
}

describe('property: invalid references and cycles', () => {
  it('give SpecErrors naming the node inputs, never other errors', () => {
    // refs: 0..3 name a param, 4..4+n-1 a node (earlier, later or itself), above that an unknown id
    const graphArb = fc.array(fc.record({ unary: fc.boolean(), refs: fc.array(fc.nat({ max: 14 }), { minLength: 2, maxLength: 2 }) }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(graphArb, (spec) => {
        const n = spec.length;
        const name = (r: number) => (r < 2 ? ['p', 'q'][r]! : r - 2 < n ? `n${r - 2}` : `ghost${r}`);
        const nodes = spec.map((s, i) => ({ id: `n${i}`, op: s.unary ? 'tanh' : 'mul', inputs: (s.unary ? s.refs.slice(0, 1) : s.refs).map(name) }));
        nodes.push({ id: 'L', op: 'sum', inputs: [`n${n - 1}`] });
        const job = graphJob({ params: { p: { shape: [2] }, q: { shape: [2] } }, nodes, output: 'L' }, { params: { p: rand([2], 1), q: rand([2], 2) } });

        const ghosts = nodes.flatMap((node, i) => node.inputs.flatMap((ref, k) => (ref.startsWith('ghost') ? [['model', 'nodes', i, 'inputs', k]] : [])));
        const idx = (ref: string) => (ref.startsWith('n') ? Number(ref.slice(1)) : ref === 'L' ? n : -1);
        const cyclic = hasCycle(nodes.map((node) => node.inputs.map(idx)));
        let error: unknown;
        try {
          gradients(job, LIMITS);
        } catch (err) {
          error = err;
        }
        if (ghosts.length === 0 && !cyclic) {
          expect(error).toBeUndefined();
          return;
        }
        expect(error).toBeInstanceOf(SpecError);
        const issues = (error as SpecError).issues;
        for (const path of ghosts) expect(issues.map((i) => i.path)).toContainEqual(path);
        if (cyclic) expect(issues.some((i) => /cycle/.test(i.message))).toBe(true);
        for (const issue of issues) {
          expect(issue.path.slice(0, 2)).toEqual(['model', 'nodes']);
          expect(issue.path[3]).toBe('inputs');
        }
      }),
      { numRuns: 300 },
    );
  });
});

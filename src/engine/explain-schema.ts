import { z } from 'zod';

// The response of explain: plain JSON (small graphs only, so values are written out as nested arrays).

/** How big a graph explain accepts; the Jacobians make its work and answer grow fast. */
export const EXPLAIN_LIMITS = {
  /** graph nodes, the appended loss included */
  maxNodes: 64,
  /** elements of all values together: data, params, constants and every node */
  maxElements: 4096,
  /** entries of all local Jacobians together (Σ over edges of output size × input size) */
  maxJacobianEntries: 65536,
  /** paths listed per parameter in a scalar graph; past that the list is cut and marked */
  maxPathsPerParam: 64,
} as const;

const L = EXPLAIN_LIMITS;

const NumberOrNull = z.number().nullable();
const NestedSchema = z
  .union([z.number(), z.null(), z.array(z.unknown())])
  .describe('a number (scalar) or nested arrays of numbers in row-major order; null stands for NaN or ±Inf');

export const ExplainEdgeSchema = z
  .strictObject({
    input: z.number().int().describe('position of this operand among the node\'s inputs'),
    from: z.string().describe('the operand: an id, or the number of a literal'),
    local: NestedSchema.describe(
      'the local derivative ∂node/∂input used by the chain rule: a number when both are scalars, else the Jacobian as nested arrays of shape [...node shape, ...input shape] (computed with one-hot upstream gradients); null when the op passes no gradient to this input',
    ),
    shape: z.array(z.number().int()).describe('shape of `local`: the node\'s shape followed by the input\'s'),
  })
  .describe('one input edge of a node');

export const ExplainNodeSchema = z
  .strictObject({
    id: z.string().describe('the id (the appended loss is shown as "L", or "loss" if "L" is taken; the targets as "targets")'),
    kind: z.enum(['input', 'param', 'constant', 'node']).describe('a leaf of the graph or an operation'),
    op: z.string().nullable().describe('the op of a node; null for a leaf'),
    derivative: z.string().nullable().describe('the op\'s local derivative written out; null for a leaf'),
    shape: z.array(z.number().int()).describe('shape of the value'),
    value: NestedSchema.describe('the value computed by the forward pass'),
    adjoint: NestedSchema.describe('dL/d(this value) from backpropagation; null when L does not depend on it'),
    edges: z.array(ExplainEdgeSchema).describe('the node\'s operands with their local derivatives; empty for a leaf'),
  })
  .describe('one value of the graph, in topological order (leaves first)');

export const ExplainPathSchema = z
  .strictObject({
    nodes: z.array(z.string()).describe('the path from L down to the parameter, e.g. ["L", "y", "h", "w1"]'),
    factors: z.array(NumberOrNull).describe('the local derivative of each step of the path (preceded by dL/d(output) when outputGrad seeds backpropagation)'),
    product: NumberOrNull.describe('the product of the factors: this path\'s share of the gradient'),
  })
  .describe('one path from the loss to a parameter');

export const ExplainGradientSchema = z
  .strictObject({
    param: z.string().describe('the parameter'),
    gradient: NumberOrNull.describe('the sum over paths of the product of local derivatives along each path'),
    backprop: NumberOrNull.describe('the same gradient from backpropagation (they agree up to rounding unless `truncated`)'),
    formula: z
      .string()
      .describe('e.g. "dL/dw1 = dL/dy · dy/dh · dh/dw1 = (−5)·(−1.5)·(2) = 15"; several paths are added; a node reading one value at two inputs contributes one partial per input, "∂L/∂w (as input 0 of L)"; cut short (`truncated`), it ends in backpropagation\'s gradient and what the listed paths add up to'),
    paths: z.array(ExplainPathSchema).describe(`the paths, at most ${L.maxPathsPerParam}`),
    truncated: z.boolean().describe(`true when the parameter has more than ${L.maxPathsPerParam} paths and only the first are listed and summed`),
  })
  .describe('a parameter\'s gradient as a sum over paths of products of local derivatives');

export const ExplainResultSchema = z
  .strictObject({
    loss: NumberOrNull.describe('the value backpropagation starts from (the loss, or the scalar output); null with outputGrad'),
    output: z.string().describe('the id of the model output'),
    scalar: z.boolean().describe('whether every value of the graph is a scalar; only then are `gradients` written as path sums'),
    nodes: z.array(ExplainNodeSchema).describe('every value with its adjoint and local derivatives, in topological order'),
    gradients: z.array(ExplainGradientSchema).describe('for scalar graphs: each parameter\'s gradient as a sum over paths; empty otherwise'),
    dot: z.string().describe('the graph in Graphviz DOT, each node labelled with its op, value and gradient'),
    note: z.string().optional().describe('present when `gradients` is empty: why, and where the gradients are instead'),
  })
  .describe(
    `the chain-rule bookkeeping of a small graph, computed in float64. Limits: at most ${L.maxNodes} nodes, ${L.maxElements} elements in all values together and ${L.maxJacobianEntries} Jacobian entries over all edges (else 413)`,
  );
export type ExplainResult = z.infer<typeof ExplainResultSchema>;
export type ExplainNode = z.infer<typeof ExplainNodeSchema>;
export type ExplainGradient = z.infer<typeof ExplainGradientSchema>;

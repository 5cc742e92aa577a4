import { size, type Shape, type Tensor } from '../../engine/tensor.js';
import { INTEGER, OPSET_MAX, OPSET_MIN, type AttrValue, type OnnxNode } from './decode.js';
import type { Importer, Value } from './import.js';

// How each supported ONNX op (opsets 13–18, default domain) is written with the engine's ops. A rule
// gets the node and its input values (undefined for an omitted optional input) and returns the values
// of its outputs. Ops on shapes need constant operands; with every input constant, the engine's ops
// compute the result at import (Importer.emit).

type Rule = (c: Importer, n: OnnxNode, x: (Value | undefined)[]) => Value[];

const num = (n: OnnxNode, key: string, dflt: number): number => (typeof n.attrs[key] === 'number' ? (n.attrs[key] as number) : dflt);
const list = (n: OnnxNode, key: string): number[] | undefined => (Array.isArray(n.attrs[key]) ? (n.attrs[key] as number[]) : undefined);

/** The elements of a constant operand (a shape, axes, indices): the node cannot be imported otherwise. */
function ints(c: Importer, v: Value | undefined, what: string): number[] | undefined {
  if (v === undefined) return undefined;
  if (v.kind !== 'const') throw c.fail(`its ${what} must be constant (computed from shapes and constants only), not computed from data`);
  return Array.from(v.t.data);
}

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

const unary = (op: string, attrs: (n: OnnxNode) => Record<string, unknown> = () => ({})): Rule => (c, n, [x]) => [c.emit(op, [x!], attrs(n))];
const binary = (op: string): Rule => (c, _n, [a, b]) => [c.emit(op, [a!, b!])];
/** n-ary as a chain of binary ops (ONNX Max, Min, Sum take any number of inputs) */
const variadic = (op: string): Rule => (c, _n, xs) => [xs.slice(1).reduce((acc: Value, v) => c.emit(op, [acc, v!]), xs[0]!)];
const same: Rule = (_c, _n, [x]) => [x!];
const reshapeTo = (c: Importer, x: Value, shape: Shape): Value => c.emit('reshape', [x], { shape: [...shape] });
/** a 0-d constant operand */
const scalar = (v: number): Value => ({ kind: 'const', t: { shape: [], data: Float64Array.of(v) } });

/** The one number of a constant operand (a bound, an axis), if given. */
function one(c: Importer, v: Value | undefined, what: string): number | undefined {
  const d = ints(c, v, what);
  if (d !== undefined && d.length !== 1) throw c.fail(`its ${what} must be one number, not ${d.length}`);
  return d?.[0];
}

/**
 * A comparison of constants, computed at import: shape arithmetic (x.expand(-1, …) tests its sizes
 * against −1). A comparison of data has no gradient to pass, and is not imported.
 */
const compare =
  (test: (difference: number) => boolean): Rule =>
  (c, _n, [a, b]) => {
    if (a!.kind !== 'const' || b!.kind !== 'const') throw c.fail('comparisons are imported for constants only (shape arithmetic), not for values computed from the inputs');
    const d = c.emit('sub', [a!, b!]) as Value & { kind: 'const' };
    return [c.constant(d.t.shape, (out) => d.t.data.forEach((v, k) => (out[k] = test(v) ? 1 : 0)), true)];
  };

/** Clip: clamp between constant bounds, either of which may be left out. */
function clip(c: Importer, _n: OnnxNode, [x, lo, hi]: (Value | undefined)[]): Value[] {
  const [min, max] = [one(c, lo, 'min'), one(c, hi, 'max')];
  if (min === undefined && max === undefined) return [x!];
  return [c.emit('clamp', [x!], { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) })];
}

/** max(0, min(1, alpha·x + beta)); torch's 1/6, stored as a float32 attribute, is taken exactly */
function hardSigmoid(c: Importer, x: Value, alpha: number, beta: number): Value {
  const a = Math.fround(alpha) === Math.fround(1 / 6) ? 1 / 6 : alpha;
  return c.emit('clamp', [c.emit('add', [c.emit('mul', [x, scalar(a)]), scalar(beta)])], { min: 0, max: 1 });
}

/** Split: one slice of the axis per output, sized by the split input, or as even as num_outputs makes them. */
function split(c: Importer, n: OnnxNode, [x, sizes]: (Value | undefined)[]): Value[] {
  const shape = c.needShape(x!);
  const axis = norm(num(n, 'axis', 0), shape.length);
  const d = shape[axis]!;
  const count = n.outputs.length;
  const each = Math.ceil(d / num(n, 'num_outputs', count));
  const parts = ints(c, sizes, 'split') ?? Array.from({ length: count }, (_, k) => Math.max(0, Math.min(each, d - k * each)));
  if (parts.length !== count || parts.some((p) => p < 0) || parts.reduce((a, b) => a + b, 0) !== d) {
    throw c.fail(`its parts [${parts.join(', ')}] do not cut the axis of ${d} into its ${count} outputs`);
  }
  let start = 0;
  return parts.map((p) => c.emit('slice', [x!], { axis, start, end: (start += p) }));
}

function gemm(c: Importer, n: OnnxNode, [a, b, bias]: (Value | undefined)[]): Value[] {
  const [alpha, beta] = [num(n, 'alpha', 1), num(n, 'beta', 1)];
  const x = num(n, 'transA', 0) ? c.emit('transpose', [a!]) : a!;
  const bShape = c.shapeOf(b!);
  const outF = bShape?.[num(n, 'transB', 0) ? 0 : 1];
  // torch's nn.Linear: one linear node, W [out, in] as the file holds it
  if (num(n, 'transB', 0) && alpha === 1 && (bias === undefined || (beta === 1 && c.shapeOf(bias)?.length === 1 && c.shapeOf(bias)![0] === outF))) {
    return [c.emit('linear', bias === undefined ? [x, b!] : [x, b!, bias])];
  }
  let y = c.emit('matmul', [x, num(n, 'transB', 0) ? c.emit('transpose', [b!]) : b!]);
  if (alpha !== 1) y = c.emit('mul', [y, scalar(alpha)]);
  if (bias === undefined) return [y];
  const scaled = beta === 1 ? bias : c.emit('mul', [bias, scalar(beta)]);
  return [c.emit('add', [y, scaled])];
}

function slice(c: Importer, n: OnnxNode, [x, starts, ends, axes, steps]: (Value | undefined)[]): Value[] {
  const s = ints(c, starts, 'starts')!;
  const e = ints(c, ends, 'ends')!;
  const ax = ints(c, axes, 'axes') ?? s.map((_, k) => k);
  const st = ints(c, steps, 'steps') ?? [];
  if (x!.kind === 'const') return [sliceConstant(c, x!.t, s, e, ax, st)];
  if (st.some((v) => v !== 1)) throw c.fail('steps other than 1 are supported on constants only, not on values computed from the inputs');
  // ends such as INT64_MAX (to the end) are clamped to the axis, as the slice op does
  const bound = (v: number) => Math.max(Math.min(v, Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER);
  return [ax.reduce((v: Value, axis, k) => c.emit('slice', [v], { axis, start: bound(s[k]!), end: bound(e[k]!) }), x!)];
}

/**
 * Slice of a constant with any steps, by ONNX's rules (a negative step walks back from a start
 * clamped to the last element), computed here: torch's F.pad builds its pads with a step of −1.
 */
function sliceConstant(c: Importer, t: Tensor, s: number[], e: number[], ax: number[], st: number[]): Value {
  const rank = t.shape.length;
  const picks = t.shape.map((d) => Array.from({ length: d }, (_, i) => i));
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  ax.forEach((axis, k) => {
    const a = norm(axis, rank);
    const d = t.shape[a];
    const step = st[k] ?? 1;
    if (d === undefined) throw c.fail(`axis ${axis} out of range for a constant of rank ${rank}`);
    if (step === 0) throw c.fail('a step of 0');
    const from = s[k]! < 0 ? s[k]! + d : s[k]!;
    const to = e[k]! < 0 ? e[k]! + d : e[k]!;
    const [lo, hi] = step > 0 ? [clamp(from, 0, d), clamp(to, 0, d)] : [clamp(from, 0, d - 1), clamp(to, -1, d - 1)];
    const idx: number[] = [];
    for (let i = lo; step > 0 ? i < hi : i > hi; i += step) idx.push(i);
    picks[a] = idx;
  });
  const strides = t.shape.map((_, a) => t.shape.slice(a + 1).reduce((p, v) => p * v, 1));
  return c.constant(
    picks.map((p) => p.length),
    (out) => {
      const at = new Array<number>(rank).fill(0);
      for (let o = 0; o < out.length; o++) {
        let src = 0;
        for (let a = 0; a < rank; a++) src += picks[a]![at[a]!]! * strides[a]!;
        out[o] = t.data[src]!;
        for (let a = rank - 1; a >= 0 && ++at[a]! === picks[a]!.length; a--) at[a] = 0;
      }
    },
    INTEGER.has(t),
  );
}

/** ReduceMean/Sum/Max: axes from the attribute (before opset 18; ReduceSum from 13) or the second input. */
const reduce = (op: string): Rule => (c, n, [x, axesInput]) => {
  const axes = list(n, 'axes') ?? ints(c, axesInput, 'axes');
  if ((axes === undefined || axes.length === 0) && num(n, 'noop_with_empty_axes', 0)) return [x!];
  return [c.emit(op, [x!], { ...(axes?.length ? { axes } : {}), keepdims: num(n, 'keepdims', 1) === 1 })];
};

/**
 * A reshape of data that keeps its leading (batch) dimension and regroups the rest, written with -1
 * there: torch's flatten(x, 1) and x.view(x.size(0), -1) come out of the exporter with the batch
 * fixed, and so the same graph serves every batch size (/v1/train's minibatches).
 */
function keepingBatch(c: Importer, x: Value, target: Shape): Shape {
  const shape = c.shapeOf(x);
  if (x.kind === 'const' || shape === undefined || shape.length === 0 || target.length === 0 || target[0] !== shape[0]) return target;
  // the rest, with its -1 (if any) worked out
  const rest = size(shape.slice(1));
  const known = size(target.slice(1).map((d) => (d === -1 ? 1 : d)));
  const whole = target.slice(1).map((d) => (d === -1 ? rest / known : d));
  return rest > 0 && whole.every((d) => Number.isInteger(d) && d >= 0) && size(whole) === rest ? [-1, ...whole] : target;
}

/** x with the shape of `shape` given as a constant operand (Reshape), 0 copying x's dim unless allowzero. */
function reshape(c: Importer, n: OnnxNode, [x, shapeInput]: (Value | undefined)[]): Value[] {
  const target = ints(c, shapeInput, 'shape')!;
  const from = target.includes(0) && !num(n, 'allowzero', 0) ? c.needShape(x!) : undefined;
  return [reshapeTo(c, x!, keepingBatch(c, x!, target.map((d, k) => (d === 0 && from ? from[k]! : d))))];
}

function flatten(c: Importer, n: OnnxNode, [x]: (Value | undefined)[]): Value[] {
  const shape = c.needShape(x!);
  const axis = norm(num(n, 'axis', 1), shape.length);
  return [reshapeTo(c, x!, keepingBatch(c, x!, [size(shape.slice(0, axis)), size(shape.slice(axis))]))];
}

function squeeze(c: Importer, _n: OnnxNode, [x, axesInput]: (Value | undefined)[]): Value[] {
  const axes = ints(c, axesInput, 'axes');
  const shape = c.shapeOf(x!);
  if (shape === undefined) {
    if (axes === undefined) return [c.emit('squeeze', [x!])];
    if (axes.length === 1) return [c.emit('squeeze', [x!], { axis: axes[0] })];
    c.needShape(x!);
  }
  const drop = (axes ?? shape!.flatMap((d, k) => (d === 1 ? [k] : []))).map((a) => norm(a, shape!.length));
  return [reshapeTo(c, x!, shape!.filter((_, k) => !drop.includes(k)))];
}

function unsqueeze(c: Importer, _n: OnnxNode, [x, axesInput]: (Value | undefined)[]): Value[] {
  const axes = ints(c, axesInput, 'axes')!;
  const shape = c.shapeOf(x!);
  if (shape === undefined) {
    if (axes.length === 1) return [c.emit('unsqueeze', [x!], { axis: axes[0] })];
    c.needShape(x!);
  }
  const rank = shape!.length + axes.length;
  const at = axes.map((a) => norm(a, rank));
  if (at.some((a) => a < 0 || a >= rank)) throw c.fail(`axes [${axes.join(', ')}] out of range for an output of rank ${rank}`);
  const out: number[] = [];
  for (let k = 0, j = 0; k < rank; k++) out.push(at.includes(k) ? 1 : shape![j++]!);
  return [reshapeTo(c, x!, out)];
}

/**
 * Inference: (x − mean)/√(var + eps)·scale + B with the file's statistics; training: the batchnorm op.
 * A training-mode export's running mean and variance outputs (training_mode=1) are left out, as the
 * service keeps no statistics: a node that reads them is refused.
 */
function batchNormalization(c: Importer, n: OnnxNode, [x, scale, bias, mean, variance]: (Value | undefined)[]): Value[] {
  const eps = num(n, 'epsilon', 1e-5);
  const stats = n.outputs.slice(1).filter((o) => o !== '');
  const read = stats.find((o) => c.model.outputs.includes(o) || c.model.nodes.some((m) => m.inputs.includes(o)));
  if (read !== undefined) throw c.fail(`its running statistics output "${read}" is read by the graph; the service keeps no running statistics`);
  if (c.opts.batchnorm === 'train') return [c.emit('batchnorm', [x!, scale!, bias!], { eps })];
  const rank = c.needShape(x!).length;
  const channel = (v: Value) => reshapeTo(c, v, [-1, ...new Array<number>(Math.max(rank - 2, 0)).fill(1)]);
  const inv = c.emit('reciprocal', [c.emit('sqrt', [c.emit('add', [variance!, scalar(eps)])])]);
  const centred = c.emit('sub', [x!, channel(mean!)]);
  return [c.emit('add', [c.emit('mul', [centred, channel(c.emit('mul', [scale!, inv]))]), channel(bias!)])];
}

function constant(c: Importer, n: OnnxNode): Value[] {
  // ONNX's Constant holds exactly one: with two, which one a runtime takes is its own choice
  const given = Object.keys(n.attrTypes);
  if (given.length !== 1) throw c.fail(`has ${given.length === 0 ? 'no value attribute' : `the attributes ${given.join(', ')}`}; a Constant has exactly one`);
  const a: AttrValue | undefined = n.attrs.value ?? n.attrs.value_float ?? n.attrs.value_int ?? n.attrs.value_floats ?? n.attrs.value_ints;
  if (a === undefined || typeof a === 'string') throw c.fail('only value, value_float(s) and value_int(s) constants are supported');
  if (typeof a === 'object' && !Array.isArray(a)) return [{ kind: 'const', t: a }];
  const values = typeof a === 'number' ? [a] : a;
  const integer = n.attrs.value_int !== undefined || n.attrs.value_ints !== undefined;
  return [c.constant(typeof a === 'number' ? [] : [values.length], (d) => d.set(values), integer)];
}

function shape(c: Importer, n: OnnxNode, [x]: (Value | undefined)[]): Value[] {
  const s = c.needShape(x!);
  const [start, end] = [norm(num(n, 'start', 0), s.length), n.attrs.end === undefined ? s.length : norm(num(n, 'end', 0), s.length)];
  const dims = s.slice(Math.max(start, 0), Math.min(end, s.length));
  return [c.constant([dims.length], (d) => d.set(dims), true)];
}

/** Cast: constants are converted; data stays in the request's dtype when cast to a float type. */
function cast(c: Importer, n: OnnxNode, [x]: (Value | undefined)[]): Value[] {
  const to = num(n, 'to', 0);
  if (x!.kind === 'node') {
    if (to === 1 || to === 11) return [x!];
    throw c.fail(`a cast of computed data to element type ${to} is not supported (only to float and double)`);
  }
  const convert: Record<number, (v: number) => number> = { 1: Math.fround, 11: (v) => v, 6: Math.trunc, 7: Math.trunc, 9: (v) => (v !== 0 ? 1 : 0) };
  if (convert[to] === undefined) throw c.fail(`a cast to element type ${to} is not supported`);
  const t = x!.t;
  return [c.constant(t.shape, (d) => t.data.forEach((v, k) => (d[k] = convert[to]!(v))), to !== 1 && to !== 11)];
}

function constantOfShape(c: Importer, n: OnnxNode, [s]: (Value | undefined)[]): Value[] {
  const dims = ints(c, s, 'shape')!;
  const v = n.attrs.value;
  const given = v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  if (given !== undefined && given.data.length !== 1) throw c.fail(`its value is a tensor of ${given.data.length} elements; ConstantOfShape's value has one, the fill`);
  return [c.constant(dims, (d) => d.fill(given?.data[0] ?? 0), given !== undefined && INTEGER.has(given))];
}

/** Gather of constants, computed here (an index into a shape, mostly). */
function gatherConstant(c: Importer, n: OnnxNode, t: Tensor, idx: number[], idxShape: Shape): Value {
  const integer = INTEGER.has(t);
  const axis = norm(num(n, 'axis', 0), t.shape.length);
  const [outer, d, inner] = [t.shape.slice(0, axis).reduce((p, v) => p * v, 1), t.shape[axis]!, t.shape.slice(axis + 1).reduce((p, v) => p * v, 1)];
  const out = [...t.shape.slice(0, axis), ...idxShape, ...t.shape.slice(axis + 1)];
  return c.constant(out, (o) => {
    let k = 0;
    for (let i = 0; i < outer; i++)
      for (const j of idx) {
        const jj = j < 0 ? j + d : j;
        if (jj < 0 || jj >= d) throw c.fail(`index ${j} out of range for axis ${axis} of size ${d}`);
        o.set(t.data.subarray((i * d + jj) * inner, (i * d + jj + 1) * inner), k);
        k += inner;
      }
  }, integer);
}

/**
 * Gather (numpy's take): of constants, computed here; of a 2-D tensor along axis 0 (nn.Embedding's
 * lookup), embedding; otherwise index_select over the indices as a vector, reshaped to
 * data.shape[:axis] + indices.shape + data.shape[axis+1:]. Negative constant indices count from the end.
 */
function gather(c: Importer, n: OnnxNode, [data, indices]: (Value | undefined)[]): Value[] {
  const idxShape = c.needShape(indices!, 'its indices');
  if (data!.kind === 'const' && indices!.kind === 'const') return [gatherConstant(c, n, data!.t, Array.from(indices!.t.data), idxShape)];
  const shape = c.needShape(data!);
  const axis = norm(num(n, 'axis', 0), shape.length);
  let index = indices!;
  if (index.kind === 'const') {
    const t = index.t;
    index = c.constant(t.shape, (d) => t.data.forEach((v, k) => (d[k] = v < 0 ? v + shape[axis]! : v)));
  }
  if (axis === 0 && shape.length === 2) return [c.emit('embedding', [index, data!])];
  const picked = c.emit('index_select', [data!, idxShape.length === 1 ? index : reshapeTo(c, index, [-1])], { axis });
  return [reshapeTo(c, picked, [...shape.slice(0, axis), ...idxShape, ...shape.slice(axis + 1)])];
}

/** Expand: ONNX broadcasts both ways (a 1 in `shape` keeps the input's dim), torch's expand one way. */
function expand(c: Importer, _n: OnnxNode, [x, shapeInput]: (Value | undefined)[]): Value[] {
  const target = ints(c, shapeInput, 'shape')!;
  const from = c.needShape(x!);
  const lead = target.length - from.length;
  const shape = lead >= 0 ? target.map((d, k) => (d === 1 && k >= lead ? from[k - lead]! : d)) : target;
  return [c.emit('expand', [x!], { shape })];
}

/** ONNX pads [begin per dim..., end per dim...] as torch's padding, the same on both sides of each dim. */
function symmetricPads(c: Importer, n: OnnxNode, dims: number): number[] {
  const pads = list(n, 'pads') ?? new Array<number>(2 * dims).fill(0);
  const [begin, end] = [pads.slice(0, dims), pads.slice(dims)];
  if (begin.some((p, k) => p !== end[k])) throw c.fail(`pads [${pads.join(', ')}] differ between the two sides of a dimension, which torch's padding does not do`);
  return begin;
}

/** auto_pad as torch's padding: VALID is none, SAME_UPPER torch's "same" (an odd total goes after). */
function autoPad(c: Importer, n: OnnxNode): 'same' | 'valid' | undefined {
  const a = n.attrs.auto_pad;
  if (a === undefined || a === 'NOTSET') return undefined;
  if (a === 'VALID') return 'valid';
  if (a === 'SAME_UPPER') return 'same';
  throw c.fail(`auto_pad ${String(a)} is not supported (NOTSET, VALID, SAME_UPPER)`);
}

function conv(c: Importer, n: OnnxNode, [x, w, b]: (Value | undefined)[]): Value[] {
  const wShape = c.needShape(w!, 'its weight');
  const dims = wShape.length - 2;
  if (dims !== 1 && dims !== 2) throw c.fail(`a ${dims}-D convolution is not supported (1-D and 2-D are)`);
  // the weight's shape says the kernel's: kernel_shape is read only to see that the file agrees
  const kernel = list(n, 'kernel_shape');
  if (kernel !== undefined && kernel.join() !== wShape.slice(2).join()) throw c.fail(`kernel_shape [${kernel.join(', ')}] is not the weight's [${wShape.slice(2).join(', ')}]`);
  const attrs = { stride: list(n, 'strides') ?? 1, padding: autoPad(c, n) ?? symmetricPads(c, n, dims), dilation: list(n, 'dilations') ?? 1, groups: num(n, 'group', 1) };
  return [c.emit(dims === 2 ? 'conv2d' : 'conv1d', b === undefined ? [x!, w!] : [x!, w!, b], attrs)];
}

/** MaxPool and AveragePool over 2-D windows; ONNX's strides default to 1 and count_include_pad to 0, torch's do not. */
const pool = (op: 'max_pool2d' | 'avg_pool2d'): Rule => (c, n, [x]) => {
  const kernelSize = list(n, 'kernel_shape') ?? [];
  if (kernelSize.length !== 2) throw c.fail(`kernel_shape [${kernelSize.join(', ')}]: only 2-D pooling is supported`);
  if ((list(n, 'dilations') ?? []).some((d) => d !== 1)) throw c.fail('dilations other than 1 are not supported');
  if (n.outputs[1]) throw c.fail('the Indices output is not supported');
  if (autoPad(c, n) !== undefined) throw c.fail('auto_pad is not supported for pooling: give pads');
  const attrs = { kernelSize, stride: list(n, 'strides') ?? [1, 1], padding: symmetricPads(c, n, 2), ceilMode: num(n, 'ceil_mode', 0) === 1 };
  return [c.emit(op, [x!], op === 'avg_pool2d' ? { ...attrs, countIncludePad: num(n, 'count_include_pad', 0) === 1 } : attrs)];
};

/** Pad, mode "constant": each padded side a constant block joined on (torch exports avg_pool2d's padding so). */
function pad(c: Importer, n: OnnxNode, [x, padsInput, value, axesInput]: (Value | undefined)[]): Value[] {
  const mode = n.attrs.mode ?? 'constant';
  if (mode !== 'constant') throw c.fail(`mode ${String(mode)} is not supported (only constant)`);
  const shape = [...c.needShape(x!)];
  const pads = ints(c, padsInput, 'pads')!;
  const axes = (ints(c, axesInput, 'axes') ?? shape.map((_, k) => k)).map((a) => norm(a, shape.length));
  const fill = ints(c, value, 'constant_value')?.[0] ?? 0;
  if (pads.length !== 2 * axes.length || pads.some((p) => p < 0)) throw c.fail(`pads [${pads.join(', ')}]: one non-negative begin and end per axis are supported`);
  let out = x!;
  axes.forEach((axis, k) => {
    const block = (width: number) => c.constant(shape.map((d, j) => (j === axis ? width : d)), (data) => data.fill(fill));
    const [begin, end] = [pads[k]!, pads[k + axes.length]!];
    if (begin + end === 0) return;
    out = c.emit('concat', [...(begin > 0 ? [block(begin)] : []), out, ...(end > 0 ? [block(end)] : [])], { axis });
    shape[axis]! += begin + end;
  });
  return [out];
}

export const HANDLERS: Record<string, Rule> = {
  Abs: unary('abs'),
  Add: binary('add'),
  AveragePool: pool('avg_pool2d'),
  BatchNormalization: batchNormalization,
  Cast: cast,
  Clip: clip,
  Concat: (c, n, xs) => [c.emit('concat', xs as Value[], { axis: num(n, 'axis', 0) })],
  Constant: constant,
  Conv: conv,
  ConstantOfShape: constantOfShape,
  Cos: unary('cos'),
  CumSum: (c, n, [x, axis]) => {
    if (num(n, 'exclusive', 0) || num(n, 'reverse', 0)) throw c.fail('exclusive and reverse running sums are not supported (torch.cumsum exports neither)');
    return [c.emit('cumsum', [x!], { axis: one(c, axis, 'axis')! })];
  },
  Div: binary('div'),
  Dropout: same,
  Elu: unary('elu', (n) => ({ alpha: num(n, 'alpha', 1) })),
  Equal: compare((d) => d === 0),
  Exp: unary('exp'),
  Expand: expand,
  Flatten: flatten,
  Gather: gather,
  // the mean over every axis after N and C, kept as 1s (torch's adaptive_avg_pool2d(x, 1))
  GlobalAveragePool: (c, _n, [x]) => [c.emit('mean', [x!], { axes: c.needShape(x!).slice(2).map((_, k) => k + 2), keepdims: true })],
  GatherElements: (c, n, [x, index]) => [c.emit('gather', [x!, index!], { axis: num(n, 'axis', 0) })],
  Gemm: gemm,
  Greater: compare((d) => d > 0),
  GreaterOrEqual: compare((d) => d >= 0),
  HardSigmoid: (c, n, [x]) => [hardSigmoid(c, x!, num(n, 'alpha', 0.2), num(n, 'beta', 0.5))],
  HardSwish: (c, _n, [x]) => [c.emit('mul', [x!, hardSigmoid(c, x!, 1 / 6, 0.5)])],
  Identity: same,
  LayerNormalization: (c, n, [x, scale, bias]) => {
    if (n.outputs.slice(1).some((o) => o !== '')) throw c.fail('the Mean and InvStdDev outputs are not supported');
    return [c.emit('layernorm', bias === undefined ? [x!, scale!] : [x!, scale!, bias], { axis: num(n, 'axis', -1), eps: num(n, 'epsilon', 1e-5) })];
  },
  Less: compare((d) => d < 0),
  LessOrEqual: compare((d) => d <= 0),
  LeakyRelu: unary('leaky_relu', (n) => ({ negativeSlope: num(n, 'alpha', 0.01) })),
  Log: unary('log'),
  LogSoftmax: unary('log_softmax', (n) => ({ axis: num(n, 'axis', -1) })),
  MatMul: binary('matmul'),
  Max: variadic('maximum'),
  MaxPool: pool('max_pool2d'),
  Min: variadic('minimum'),
  Mul: binary('mul'),
  Neg: unary('neg'),
  Not: (c, n, [x]) => compare((d) => d !== 0)(c, n, [scalar(1), x]),
  Pad: pad,
  Pow: binary('pow'),
  Reciprocal: unary('reciprocal'),
  ReduceLogSumExp: reduce('logsumexp'),
  ReduceMax: reduce('max'),
  ReduceMean: reduce('mean'),
  ReduceSum: reduce('sum'),
  Relu: unary('relu'),
  Reshape: reshape,
  Selu: (c, n, [x]) => {
    const [alpha, gamma] = [num(n, 'alpha', 1.67326319217681884765625), num(n, 'gamma', 1.05070102214813232421875)];
    // torch's constants, which the selu op has built in, as float32 (ONNX attributes are float32)
    if (Math.fround(alpha) === Math.fround(1.6732632423543772) && Math.fround(gamma) === Math.fround(1.0507009873554805)) return [c.emit('selu', [x!])];
    return [c.emit('mul', [c.emit('elu', [x!], { alpha }), scalar(gamma)])];
  },
  Shape: shape,
  Sigmoid: unary('sigmoid'),
  Sin: unary('sin'),
  Slice: slice,
  Softmax: unary('softmax', (n) => ({ axis: num(n, 'axis', -1) })),
  Softplus: unary('softplus'),
  Softsign: unary('softsign'),
  Split: split,
  Sqrt: unary('sqrt'),
  Squeeze: squeeze,
  Sub: binary('sub'),
  Sum: variadic('add'),
  Tanh: unary('tanh'),
  Transpose: (c, n, [x]) => [c.emit('transpose', [x!], list(n, 'perm') ? { perm: list(n, 'perm') } : {})],
  Unsqueeze: unsqueeze,
  Where: (c, _n, [cond, a, b]) => [c.emit('where', [cond!, a!, b!])],
};

/** An attribute of an op as the ONNX spec has it for opsets 13–18, checked before the op's rule reads it. */
export interface AttributeRule {
  /** its AttributeProto type */
  type: 'INT' | 'FLOAT' | 'STRING' | 'TENSOR' | 'INTS' | 'FLOATS' | 'STRINGS' | 'SPARSE_TENSOR';
  /** the values the spec allows, where it lists them */
  values?: readonly (number | string)[];
  /** an axis of the first input: −r … r−1 for a rank r ('in'), or −r … r ('end': Flatten may split after the last) */
  axis?: 'in' | 'end';
  /** the first and last opset that has it, for the attributes not in every version of the op from 13 to 18 */
  opsets?: readonly [number, number];
}

const INT: AttributeRule = { type: 'INT' };
const FLOAT: AttributeRule = { type: 'FLOAT' };
const STRING: AttributeRule = { type: 'STRING' };
const TENSOR: AttributeRule = { type: 'TENSOR' };
const INTS: AttributeRule = { type: 'INTS' };
const FLOATS: AttributeRule = { type: 'FLOATS' };
// the spec's ints used as booleans: 0 or 1, as torch writes them. The spec reads Gemm's transA and
// transB as "non-zero" and says nothing for the others, and the rules above read some as `=== 1`, so a
// 2 has no one meaning
const FLAG: AttributeRule = { type: 'INT', values: [0, 1] };
const AXIS: AttributeRule = { type: 'INT', axis: 'in' };
const AUTO_PAD: AttributeRule = { type: 'STRING', values: ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] };
const since = (opset: number, rule: AttributeRule): AttributeRule => ({ ...rule, opsets: [opset, OPSET_MAX] });
const until = (opset: number, rule: AttributeRule): AttributeRule => ({ ...rule, opsets: [OPSET_MIN, opset] });
const REDUCE = { axes: until(17, INTS), keepdims: FLAG, noop_with_empty_axes: since(18, FLAG) };

/**
 * Every attribute each op has in the ONNX spec (docs/Changelog.md of onnx/onnx, the versions in force
 * in opsets 13–18); an op not listed has none. A node with an attribute outside its op's list, of
 * another type or outside the values is refused: read as the spec says or not at all, never skipped,
 * since what a runtime makes of an attribute the spec lacks is its own guess. Values the spec allows
 * and an op's rule cannot do are refused by the rule.
 */
export const ATTRIBUTES: Record<string, Record<string, AttributeRule>> = {
  AveragePool: { auto_pad: AUTO_PAD, ceil_mode: FLAG, count_include_pad: FLAG, kernel_shape: INTS, pads: INTS, strides: INTS },
  BatchNormalization: { epsilon: FLOAT, momentum: FLOAT, training_mode: since(14, FLAG) },
  Cast: { to: INT },
  Concat: { axis: AXIS },
  Constant: {
    value: TENSOR, value_float: FLOAT, value_floats: FLOATS, value_int: INT, value_ints: INTS,
    value_string: STRING, value_strings: { type: 'STRINGS' }, sparse_value: { type: 'SPARSE_TENSOR' },
  },
  ConstantOfShape: { value: TENSOR },
  CumSum: { exclusive: FLAG, reverse: FLAG },
  Conv: { auto_pad: AUTO_PAD, dilations: INTS, group: INT, kernel_shape: INTS, pads: INTS, strides: INTS },
  Dropout: { seed: INT },
  Elu: { alpha: FLOAT },
  Flatten: { axis: { type: 'INT', axis: 'end' } },
  Gather: { axis: AXIS },
  GatherElements: { axis: AXIS },
  Gemm: { alpha: FLOAT, beta: FLOAT, transA: FLAG, transB: FLAG },
  HardSigmoid: { alpha: FLOAT, beta: FLOAT },
  LayerNormalization: { axis: AXIS, epsilon: FLOAT, stash_type: INT },
  LeakyRelu: { alpha: FLOAT },
  LogSoftmax: { axis: AXIS },
  MaxPool: { auto_pad: AUTO_PAD, ceil_mode: FLAG, dilations: INTS, kernel_shape: INTS, pads: INTS, storage_order: FLAG, strides: INTS },
  Pad: { mode: { type: 'STRING', values: ['constant', 'reflect', 'edge'] } },
  ReduceLogSumExp: REDUCE,
  ReduceMax: REDUCE,
  ReduceMean: REDUCE,
  ReduceSum: { keepdims: FLAG, noop_with_empty_axes: FLAG },
  Reshape: { allowzero: since(14, FLAG) },
  Selu: { alpha: FLOAT, gamma: FLOAT },
  Shape: { start: since(15, INT), end: since(15, INT) },
  Softmax: { axis: AXIS },
  Split: { axis: AXIS, num_outputs: since(18, INT) },
  Transpose: { perm: INTS },
};

/** Inputs a node of the op must have (the rest are optional); 1 for the ops not listed. */
export const MIN_INPUTS: Record<string, number> = {
  Constant: 0, Add: 2, Sub: 2, Mul: 2, Div: 2, Pow: 2, MatMul: 2, Gemm: 2, Reshape: 2, Expand: 2, Gather: 2,
  GatherElements: 2, Unsqueeze: 2, Conv: 2, Pad: 2, LayerNormalization: 2, Slice: 3, Where: 3, BatchNormalization: 5, CumSum: 2,
  Equal: 2, Greater: 2, GreaterOrEqual: 2, Less: 2, LessOrEqual: 2,
};

/** The ONNX ops the importer reads (Erf within the GELU pattern, patterns.ts). */
export const SUPPORTED: readonly string[] = [...Object.keys(HANDLERS), 'Erf'];

/**
 * Inputs read as constants (shapes, axes, indices, flags, BatchNormalization's running statistics,
 * which training mode does not read at all): an initializer there is not a param.
 */
export const CONSTANT_INPUTS: Record<string, number[]> = {
  BatchNormalization: [3, 4],
  Reshape: [1], Slice: [1, 2, 3, 4], Squeeze: [1], Unsqueeze: [1], ReduceMean: [1], ReduceSum: [1], ReduceMax: [1],
  Dropout: [1, 2], ConstantOfShape: [0], Shape: [0], Gather: [1], GatherElements: [1], Where: [0], Expand: [1], Pad: [1, 2, 3],
  Clip: [1, 2], CumSum: [1], Split: [1], ReduceLogSumExp: [1],
};

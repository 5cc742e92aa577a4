import { describe, expect, it } from 'vitest';
import { recycling } from '../../../src/engine/buffers.js';
import { OpValueError } from '../../../src/engine/op.js';
import { crossEntropyLoss } from '../../../src/engine/ops/cross-entropy-loss.js';
import { allFinite, emptyData, ShapeError, scalar, tensor, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, rng, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64, F.cross_entropy(x, target,
// reduction=r, label_smoothing=ε) and its .backward(), with integer (long) index targets in torch.
const x = t64([3, 4], [1.5, -0.5, 0.25, 2.0, 0.0, 3.0, -1.0, 0.5, -2.0, 0.75, 1.25, -0.25]);
const indices = t64([3], [3, 1, 0]);
const probs = t64([3, 4], [0.1, 0.2, 0.3, 0.4, 0.0, 1.0, 0.0, 0.0, 0.5, 0.25, 0.25, 0.0]);
const one = scalar(1, 'float64');

const op = crossEntropyLoss;
const run = (inputs: Tensor[], raw: unknown): { loss: Tensor; grads: (Tensor | null)[] } => {
  const attrs = op.parseAttrs(raw);
  const loss = op.forward(inputs, attrs);
  return { loss, grads: op.vjp(inputs, loss, one, attrs) };
};
// checkVjp on the logits alone: index targets take no gradient
const logitsOnly = { ...op, nonDifferentiable: [1, 2] };

describe('cross_entropy_loss', () => {
  it('matches PyTorch for class indices, both reductions, with and without label smoothing', () => {
    const cases: [unknown, number, number[]][] = [
      [{}, 1.5456289145880777, [0.10855778317108701, 0.014691698332997848, 0.031102325615024844, -0.15435180711910973, 0.014428679224362112, -0.04352556401957726, 0.005308014449900333, 0.02378887034531484, -0.32641592076487635, 0.10820653839942912, 0.17840242148796903, 0.039806960877478204]],
      [{ reduction: 'sum' }, 4.636886743764233, [0.32567334951326105, 0.04407509499899354, 0.09330697684507454, -0.46305542135732924, 0.043286037673086336, -0.1305766920587318, 0.015924043349701, 0.07136661103594452, -0.9792477622946291, 0.32461961519828736, 0.5352072644639071, 0.11942088263243461]],
      [{ labelSmoothing: 0.1 }, 1.5997955812547444, [0.10022444983775369, 0.006358364999664516, 0.022768992281691516, -0.12935180711910974, 0.006095345891028783, -0.0185255640195772, -0.0030253188834329986, 0.015455537011981513, -0.3014159207648764, 0.09987320506609582, 0.17006908815463576, 0.03147362754414488]],
      [{ labelSmoothing: 0.1, reduction: 'sum' }, 4.799386743764233, [0.300673349513261, 0.01907509499899354, 0.06830697684507453, -0.3880554213573293, 0.018286037673086335, -0.055576692058731836, -0.009075956650299002, 0.04636661103594452, -0.9042477622946291, 0.29961961519828734, 0.5102072644639071, 0.09442088263243462]],
    ];
    for (const [attrs, loss, grad] of cases) {
      const r = run([x, indices], attrs);
      expect(r.loss.shape).toEqual([]);
      expectClose(r.loss, [loss]);
      expectClose(r.grads[0]!, grad);
      expect(r.grads[1]).toBeNull();
    }
  });

  it('matches PyTorch for class probabilities, with gradients for logits and target', () => {
    const cases: [unknown, number, number[], number[]][] = [
      [{}, 1.403962247921411, [0.0752244498377537, -0.05197496833366882, -0.06889767438497514, 0.045648192880890275, 0.014428679224362112, -0.04352556401957726, 0.005308014449900333, 0.02378887034531484, -0.15974925409820967, 0.024873205066095784, 0.09506908815463569, 0.039806960877478204], [0.37395346510215266, 1.0406201317688193, 0.7906201317688193, 0.20728679843548597, 1.046641717186865, 0.04664171718686494, 1.3799750505201982, 0.8799750505201983, 1.2917003989657267, 0.37503373229906023, 0.20836706563239352, 0.7083670656323935]],
      [{ reduction: 'sum' }, 4.211886743764233, [0.22567334951326104, -0.15592490500100648, -0.20669302315492544, 0.13694457864267073, 0.043286037673086336, -0.1305766920587318, 0.015924043349701, 0.07136661103594452, -0.47924776229462906, 0.07461961519828736, 0.2852072644639071, 0.11942088263243461], [1.121860395306458, 3.121860395306458, 2.371860395306458, 0.621860395306458, 3.139925151560595, 0.13992515156059482, 4.139925151560595, 2.639925151560595, 3.8751011968971807, 1.1251011968971807, 0.6251011968971806, 2.1251011968971807]],
      [{ labelSmoothing: 0.2 }, 1.540628914588078, [0.06522444983775369, -0.05530830166700216, -0.0655643410516418, 0.055648192880890256, -0.0022379874423045553, 0.006474435980422727, -0.011358652216766334, 0.007122203678648173, -0.143082587431543, 0.024873205066095784, 0.09506908815463569, 0.023140294210811534], [0.29916277208172215, 0.8324961054150555, 0.6324961054150555, 0.1658294387483888, 0.837313373749492, 0.03731337374949195, 1.1039800404161586, 0.7039800404161587, 1.0333603191725815, 0.3000269858392482, 0.16669365250591484, 0.5666936525059149]],
      [{ labelSmoothing: 0.2, reduction: 'sum' }, 4.621886743764234, [0.19567334951326104, -0.16592490500100648, -0.19669302315492543, 0.1669445786426707, -0.006713962326913657, 0.019423307941268314, -0.034075956650299, 0.021366611035944536, -0.4292477622946291, 0.07461961519828736, 0.2852072644639071, 0.06942088263243461], [0.8974883162451666, 2.4974883162451667, 1.8974883162451666, 0.49748831624516643, 2.511940121248476, 0.11194012124847585, 3.311940121248476, 2.1119401212484763, 3.100080957517745, 0.9000809575177446, 0.5000809575177445, 1.7000809575177447]],
    ];
    for (const [attrs, loss, gx, gt] of cases) {
      const r = run([x, probs], attrs);
      expectClose(r.loss, [loss]);
      expectClose(r.grads[0]!, gx);
      expectClose(r.grads[1]!, gt);
    }
  });

  it('a −inf logit off the target class gives a finite loss and a 0 gradient there, as PyTorch', () => {
    // torch: F.cross_entropy([[0, -inf, 1]], [2]) = 0.31326168751822286, x.grad = [0.2689…, 0, -0.2689…]
    const r = run([t64([1, 3], [0, -Infinity, 1]), t64([1], [2])], {});
    expectClose(r.loss, [0.31326168751822286]);
    expectClose(r.grads[0]!, [0.2689414213699951, 0, -0.2689414213699951]);
  });

  it('accepts [C] logits with a scalar target, as PyTorch', () => {
    const x1 = t64([3], [0.5, -1.0, 2.0]);
    expect(op.shape([[3], []], op.parseAttrs({}))).toEqual([]);
    expectClose(run([x1, t64([], [2])], {}).loss, [0.24131129665715703]);
    expectClose(run([x1, t64([3], [0.2, 0.3, 0.5])], { labelSmoothing: 0.3 }).loss, [1.5313112966571572]);
  });

  it('accepts [N, C, d] logits with [N, d] indices or [N, C, d] probabilities, as PyTorch', () => {
    const x3 = t64([2, 3, 2], [0.1, 1.0, 0.2, -1.0, 0.3, 0.5, 2.0, 0.0, -0.5, 0.0, 1.0, 0.0]);
    const t3 = t64([2, 2], [2, 0, 0, 1]);
    const p3 = t64([2, 3, 2], [0.2, 0.5, 0.3, 0.25, 0.5, 0.25, 1, 0, 0, 0.5, 0, 0.5]);
    expectClose(run([x3, t3], {}).loss, [0.7567627720980068]);
    expectClose(run([x3, t3], { reduction: 'sum', labelSmoothing: 0.1 }).loss, [3.237051088392027]);
    expectClose(run([x3, p3], {}).loss, [0.9305127720980069]);
    expectClose(run([x3, p3], { reduction: 'sum', labelSmoothing: 0.5 }).loss, [4.424551088392027]);
    checkVjp(logitsOnly, [rand([2, 3, 2], 5, -3, 3), t3], { labelSmoothing: 0.1 });
    checkVjp(op, [rand([2, 3, 2], 6, -3, 3), p3], { reduction: 'sum', labelSmoothing: 0.3 });
  });

  it('is finite and exact for logits of magnitude 1e3, in float64 and float32', () => {
    // torch: F.cross_entropy([[1000, -1000, 0], [-1000, 1000, 999]], [1, 2]) → 1000.6566308437591
    // (float32: 1000.6566162109375), x.grad = [0.5, -0.5, 0, 0, 0.36552928931500245, -0.36552928931500245]
    const big = [1000, -1000, 0, -1000, 1000, 999];
    const r = run([t64([2, 3], big), t64([2], [1, 2])], {});
    expectClose(r.loss, [1000.6566308437591]);
    expectClose(r.grads[0]!, [0.5, -0.5, 0, 0, 0.36552928931500245, -0.36552928931500245]);
    const r32 = run([tensor([2, 3], big, 'float32'), tensor([2], [1, 2], 'float32')], {});
    expect(r32.loss.data).toBeInstanceOf(Float32Array);
    expectClose(r32.loss, [1000.6566162109375], 1e-7);
    expect(allFinite(r32.grads[0]!)).toBe(true);
    const soft = run([t64([2, 3], big), t64([2, 3], [0.5, 0.5, 0, 0, 0.25, 0.75])], { labelSmoothing: 0.1 });
    expect(allFinite(soft.loss) && allFinite(soft.grads[0]!) && allFinite(soft.grads[1]!)).toBe(true);
  });

  it('float32 logits [N, C] (the SIMD kernels) give the float64 loss and gradient within 1e-6, ignored samples 0, with class weights and label smoothing', () => {
    const [N, C] = [37, 11];
    const logits = rand([N, C], 3, -4, 4);
    const targets = Array.from({ length: N }, (_, i) => (i % 6 === 5 ? -100 : (i * 5) % C));
    const weights = rand([C], 4, 0.5, 2);
    const f32 = (t: Tensor) => tensor(t.shape, Array.from(t.data), 'float32');
    for (const labelSmoothing of [0, 0.1]) {
      for (const weighted of [false, true]) {
        const wide = run([logits, t64([N], targets), ...(weighted ? [weights] : [])], { labelSmoothing });
        const narrow = run([f32(logits), tensor([N], targets, 'float32'), ...(weighted ? [f32(weights)] : [])], { labelSmoothing });
        expect(narrow.grads[0]!.data).toBeInstanceOf(Float32Array);
        expect(Math.abs(narrow.loss.data[0]! / wide.loss.data[0]! - 1)).toBeLessThan(1e-6);
        const scale = Math.max(...Array.from(wide.grads[0]!.data, Math.abs));
        wide.grads[0]!.data.forEach((v, i) => expect(Math.abs(narrow.grads[0]!.data[i]! - v), `${labelSmoothing} ${weighted} ${i}`).toBeLessThan(1e-6 * scale));
        targets.forEach((c, n) => c === -100 && expect(Array.from(narrow.grads[0]!.data.subarray(n * C, (n + 1) * C))).toEqual(new Array(C).fill(0)));
      }
    }
  });

  it("float32 [N, C] class indices: the forward pass keeps its exps for its own output's backward pass, with the bits of evaluating them again; another x, t or ignoreIndex, a second backward pass or a later recycling call evaluate them again", () => {
    const [N, C] = [300, 67];
    const xs = tensor([N, C], Array.from(rand([N, C], 7, -6, 6).data), 'float32');
    const ts = tensor([N], Array.from({ length: N }, (_, i) => (i % 7 === 3 ? -100 : (i * 13) % C)), 'float32');
    const ws = tensor([C], Array.from(rand([C], 8, 0.5, 2).data), 'float32');
    for (const [raw, inputs] of [[{}, [xs, ts]], [{ reduction: 'sum' }, [xs, ts, ws]]] as const) {
      const attrs = op.parseAttrs(raw);
      const grad = (ins: readonly Tensor[], loss: Tensor, a = attrs) => op.vjp([...ins], loss, one, a)[0]!.data;
      /** the gradient evaluated afresh: for an output the forward pass did not make */
      const fresh = (ins: readonly Tensor[], a = attrs) => grad(ins, { ...op.forward([...ins], a) }, a);
      const want = fresh(inputs);
      const loss = op.forward([...inputs], attrs);
      // another x, another t, another ignoreIndex with this output: theirs
      const x2 = tensor([N, C], Array.from(xs.data, (v) => v / 2), 'float32');
      const t2 = tensor([N], Array.from(ts.data, (v) => (v < 0 ? 0 : v)), 'float32');
      expect(grad([x2, ...inputs.slice(1)], loss)).toEqual(fresh([x2, ...inputs.slice(1)]));
      expect(grad([xs, t2, ...inputs.slice(2)], loss)).toEqual(fresh([xs, t2, ...inputs.slice(2)]));
      // kept by a forward pass that ignored t2's class 0 (ignoreIndex 0), its rows zeroed there
      const withT2 = [xs, t2, ...inputs.slice(2)];
      expect(grad(withT2, op.forward(withT2, op.parseAttrs({ ...raw, ignoreIndex: 0 })))).toEqual(fresh(withT2));
      // its own backward pass, then a second one (the first wrote its gradient over the exps)
      expect(grad(inputs, loss)).toEqual(want);
      expect(grad(inputs, loss)).toEqual(want);
      // kept inside one recycling call, its memory handed out again by the next: not read after
      const loss2 = recycling(() => op.forward([...inputs], attrs));
      recycling(() => {
        for (let k = 0; k < 4; k++) emptyData(N * C, 'float32').fill(7);
      });
      expect(recycling(() => grad(inputs, loss2))).toEqual(want);
    }
  });

  it('throws ShapeError for targets that fit neither form, and for logits without classes', () => {
    const attrs = op.parseAttrs({});
    expect(op.shape([[5, 4], [5]], attrs)).toEqual([]);
    expect(op.shape([[5, 4], [5, 4]], attrs)).toEqual([]);
    expect(() => op.shape([[5, 4], [4]], attrs)).toThrow(ShapeError);
    expect(() => op.shape([[5, 4], [5, 1]], attrs)).toThrow(
      'cross_entropy_loss: for a prediction of shape [5, 4] ([C], [N, C] or [N, C, d1, ...]) the target must be class indices of shape [5] or class probabilities of shape [5, 4], got [5, 1]',
    );
    expect(() => op.shape([[2, 3, 4], [2, 3]], attrs)).toThrow(/class indices of shape \[2, 4\]/);
    expect(() => op.shape([[], []], attrs)).toThrow(/must have a class dimension/);
    expect(() => op.shape([[5, 0], [5]], attrs)).toThrow(/no classes/);
    expect(() => op.forward([x, t64([2], [0, 1])], attrs)).toThrow(ShapeError);
  });

  it('throws OpValueError naming the position of a bad class index', () => {
    const attrs = op.parseAttrs({});
    const fail = (t: Tensor): OpValueError => {
      try {
        op.forward([x, t], attrs);
      } catch (e) {
        expect(e).toBeInstanceOf(OpValueError);
        return e as OpValueError;
      }
      throw new Error('no error thrown');
    };
    const e1 = fail(t64([3], [0, 4, 1]));
    expect(e1.input).toBe(1);
    expect(e1.message).toBe('cross_entropy_loss: class index 4 at target[1] is out of range [0, 4) and is not ignoreIndex -100');
    expect(fail(t64([3], [0, 1, -1])).message).toMatch(/class index -1 at target\[2\] is out of range/);
    expect(fail(t64([3], [0, 1.5, 1])).message).toBe('cross_entropy_loss: target[1] = 1.5 is not an integer class index');
    const x3 = rand([2, 3, 2], 1);
    expect(() => op.forward([x3, t64([2, 2], [0, 1, 3, 0])], attrs)).toThrow('class index 3 at target[1, 0]');
  });

  it('skips targets equal to ignoreIndex and weighs classes, as PyTorch (mean over the weight of the targets kept)', () => {
    const w = t64([4], [0.5, 2.0, 1.0, 3.0]);
    const cases: [Tensor[], unknown, number, number[]][] = [
      [[x, t64([3], [3, -100, 0])], {}, 2.2484807961018194, [0.16283667475663052, 0.02203754749949677, 0.04665348842253727, -0.23152771067866462, 0, 0, 0, 0, -0.48962388114731453, 0.16230980759914368, 0.26760363223195355, 0.059710441316217305]],
      [[x, indices, w], {}, 0.7423603795434826, [0.1776400088254151, 0.02404096090854193, 0.05089471464276792, -0.252575684376725, 0.015740377335667757, -0.04748243347590247, 0.005790561218073091, 0.025951494922161644, -0.08902252384496628, 0.029510874108935214, 0.04865520586035519, 0.010856443875675874]],
      [[x, t64([3], [3, 1, -100]), w], { labelSmoothing: 0.2 }, 0.5927850987928487, [0.17249197548472728, 0.004020926774451482, 0.04085230238056563, -0.21736520463974443, 0.01166512450413824, -0.005272026442611756, -0.003869243310365115, -0.0025238547511613574, 0, 0, 0, 0]],
      [[x, t64([3], [2, -1, -1]), w], { labelSmoothing: 0.2, ignoreIndex: -1, reduction: 'sum' }, 2.4495929447197655, [0.34138251820241866, -0.05041551812613227, -0.7450296510492912, 0.4540626509730046, 0, 0, 0, 0, 0, 0, 0, 0]],
    ];
    for (const [inputs, attrs, loss, grad] of cases) {
      const r = run(inputs, attrs);
      expectClose(r.loss, [loss]);
      expectClose(r.grads[0]!, grad);
      expect(r.grads.slice(1)).toEqual(inputs.length === 3 ? [null, null] : [null]);
    }
    // probabilities with weights and smoothing: a mean over the samples, gradients for both
    const r = run([x, probs, w], { labelSmoothing: 0.1 });
    expectClose(r.loss, [1.720188479880352]);
    expectClose(r.grads[0]!, [0.18899288256389268, -0.10849533511314328, -0.0386946239665232, -0.041802923484226345, 0.024149616311143977, -0.047918919388420404, 0.0020836450245960707, 0.021685658052680374, -0.07181691581268113, -0.051697219617273214, 0.10621923949763377, 0.017294895932320593]);
    expectClose(r.grads[1]!, [0.1682790592959687, 1.8731162371838748, 0.7115581185919374, 0.5596743557758121, 0.47098877273408923, 0.08395509093635689, 1.2419775454681785, 2.3759326364045354, 0.581265179534577, 0.6750607181383085, 0.18753035906915416, 1.9125910772074626]);
    // every target ignored: NaN, as torch
    expect(run([x, t64([3], [-100, -100, -100])], { labelSmoothing: 0.1 }).loss.data[0]).toBeNaN();
  });

  it('refuses a weight not of shape [C], and an ignoreIndex ≥ 0 with probability targets (as torch)', () => {
    const attrs = op.parseAttrs({});
    expect(op.shape([[3, 4], [3], [4]], attrs)).toEqual([]);
    expect(() => op.shape([[3, 4], [3], [5]], attrs)).toThrow(new ShapeError('cross_entropy_loss: the class weight must have shape [4] (one per class), got [5]', 2));
    expect(op.shape([[3, 4], [3, 4]], op.parseAttrs({ ignoreIndex: -1 }))).toEqual([]);
    expect(() => op.shape([[3, 4], [3, 4]], op.parseAttrs({ ignoreIndex: 0 }))).toThrow(
      new ShapeError('cross_entropy_loss: ignoreIndex 0 needs class-index targets, these are class probabilities (as torch)', 1),
    );
  });

  it('validates its attributes', () => {
    expect(op.parseAttrs({})).toEqual({ reduction: 'mean', labelSmoothing: 0, ignoreIndex: -100 });
    expect(() => op.parseAttrs({ ignoreIndex: 1.5 })).toThrow();
    expect(() => op.parseAttrs({ labelSmoothing: 1.5 })).toThrow();
    expect(() => op.parseAttrs({ labelSmoothing: -0.1 })).toThrow();
    expect(() => op.parseAttrs({ label_smoothing: 0.1 })).toThrow();
  });

  it('has VJPs matching finite differences at random points', () => {
    const r = rng(11);
    const idx = t64([5], () => Math.floor(r() * 4));
    checkVjp(logitsOnly, [rand([5, 4], 1, -3, 3), idx]);
    checkVjp(logitsOnly, [rand([5, 4], 2, -3, 3), idx], { reduction: 'sum', labelSmoothing: 0.25 });
    checkVjp(logitsOnly, [t64([2, 3], [0, 0, 0, 1, 1, 1]), t64([2], [0, 2])]);
    // probability targets that do not sum to 1 are allowed, as in PyTorch, and have s ≠ 1
    checkVjp(op, [rand([3, 4], 3, -3, 3), rand([3, 4], 4, 0, 1)]);
    checkVjp(op, [rand([3, 4], 5, -3, 3), probs], { labelSmoothing: 0.2 });
    checkVjp(op, [rand([4], 6), rand([4], 7, 0, 1)], { reduction: 'sum' });
    const w = t64([4], [0.5, 2, 1, 3]);
    checkVjp(logitsOnly, [rand([5, 4], 8, -3, 3), t64([5], [1, -100, 3, 0, 3]), w], { labelSmoothing: 0.3 });
    checkVjp(logitsOnly, [rand([2, 4, 3], 9, -3, 3), t64([2, 3], [0, 2, 9, 9, 1, 3]), w], { ignoreIndex: 9, reduction: 'sum' });
    checkVjp({ ...op, nonDifferentiable: [2] }, [rand([3, 4], 10, -3, 3), probs, w], { labelSmoothing: 0.2 });
  });
});

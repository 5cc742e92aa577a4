// The op registry: one list of every op, one table built from it (buildRegistry throws on a repeated
// name). `GET /v1/ops` and the graph compiler both read OPS; every op here has a test file that checks
// its VJP (test/engine/ops/registry.test.ts).
import { buildRegistry, type AnyOp } from '../op.js';
import { abs } from './abs.js';
import { add } from './add.js';
import { batchnorm } from './batchnorm.js';
import { bceLoss } from './bce-loss.js';
import { bceWithLogitsLoss } from './bce-with-logits-loss.js';
import { clamp } from './clamp.js';
import { concat } from './concat.js';
import { cos } from './cos.js';
import { crossEntropyLoss } from './cross-entropy-loss.js';
import { div } from './div.js';
import { dropout } from './dropout.js';
import { elu } from './elu.js';
import { exp } from './exp.js';
import { geluTanh } from './gelu-tanh.js';
import { gelu } from './gelu.js';
import { huberLoss } from './huber-loss.js';
import { identity } from './identity.js';
import { l1Loss } from './l1-loss.js';
import { layernorm } from './layernorm.js';
import { leakyRelu } from './leaky-relu.js';
import { linear } from './linear.js';
import { logSoftmax } from './log-softmax.js';
import { log } from './log.js';
import { logsumexp } from './logsumexp.js';
import { matmul } from './matmul.js';
import { max } from './max.js';
import { maximum } from './maximum.js';
import { mean } from './mean.js';
import { minimum } from './minimum.js';
import { mseLoss } from './mse-loss.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { nllLoss } from './nll-loss.js';
import { pow } from './pow.js';
import { reciprocal } from './reciprocal.js';
import { relu } from './relu.js';
import { reshape } from './reshape.js';
import { scaledDotProductAttention } from './scaled-dot-product-attention.js';
import { selu } from './selu.js';
import { sigmoid } from './sigmoid.js';
import { silu } from './silu.js';
import { sin } from './sin.js';
import { slice } from './slice.js';
import { softmax } from './softmax.js';
import { softplus } from './softplus.js';
import { softsign } from './softsign.js';
import { sqrt } from './sqrt.js';
import { square } from './square.js';
import { squeeze } from './squeeze.js';
import { sub } from './sub.js';
import { sum } from './sum.js';
import { tanh } from './tanh.js';
import { transpose } from './transpose.js';
import { unsqueeze } from './unsqueeze.js';
// issue 18, indexing and selection
import { broadcastTo } from './broadcast-to.js';
import { cumsum } from './cumsum.js';
import { embedding } from './embedding.js';
import { expand } from './expand.js';
import { gather } from './gather.js';
import { indexSelect } from './index-select.js';
import { maskedFill } from './masked-fill.js';
import { where } from './where.js';
// convolution and pooling (issue 18)
import { adaptiveAvgPool2d } from './adaptive-avg-pool2d.js';
import { avgPool2d } from './avg-pool2d.js';
import { conv1d } from './conv1d.js';
import { conv2d } from './conv2d.js';
import { flatten } from './flatten.js';
import { maxPool2d } from './max-pool2d.js';

export const ALL_OPS: readonly AnyOp[] = [
  abs,
  add,
  batchnorm,
  bceLoss,
  bceWithLogitsLoss,
  clamp,
  concat,
  cos,
  crossEntropyLoss,
  div,
  dropout,
  elu,
  exp,
  geluTanh,
  gelu,
  huberLoss,
  identity,
  l1Loss,
  layernorm,
  leakyRelu,
  linear,
  logSoftmax,
  log,
  logsumexp,
  matmul,
  max,
  maximum,
  mean,
  minimum,
  mseLoss,
  mul,
  neg,
  nllLoss,
  pow,
  reciprocal,
  relu,
  reshape,
  scaledDotProductAttention,
  selu,
  sigmoid,
  silu,
  sin,
  slice,
  softmax,
  softplus,
  softsign,
  sqrt,
  square,
  squeeze,
  sub,
  sum,
  tanh,
  transpose,
  unsqueeze,
  // issue 18, indexing and selection
  embedding,
  gather,
  indexSelect,
  where,
  maskedFill,
  expand,
  broadcastTo,
  cumsum,
  // convolution and pooling
  adaptiveAvgPool2d,
  avgPool2d,
  conv1d,
  conv2d,
  flatten,
  maxPool2d,
];

export const OPS = buildRegistry(ALL_OPS);

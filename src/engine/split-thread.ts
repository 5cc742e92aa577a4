// The second-core helper of a computing thread (engine/split.ts): it sleeps until a part is posted,
// computes it on the arena's views, and says how it went. It runs the same op code as its parent, with
// the same gemm backend, each OpenBLAS product on one thread (its parent holds the library's count).
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Cancelled, cancellable } from './cancel.js';
import { blasInfo, gemmBackend, holdBlasThreads, initKernels, setGemmBackend } from './kernels/index.js';
import { referenceBackend } from './kernels/reference.js';
import { convPart } from './ops/shared/conv.js';
import { CLAIM, SLOT, STATUS, type PartMessage, type Task } from './split.js';

const TASKS: Record<string, Task> = { conv: convPart };

const { ctrl, port } = workerData as { ctrl: Int32Array; port: MessagePort };
initKernels();
holdBlasThreads(true, false);
parentPort!.postMessage('ready');

function useBackend(want: PartMessage['backend']): void {
  if (gemmBackend().name === want.name && (want.path === null || blasInfo()?.path === want.path)) return;
  if (want.name === 'reference') setGemmBackend(referenceBackend);
  else initKernels(want.name === 'wasm' ? 'off' : (want.path ?? 'auto'));
}

/**
 * After a part, the helper looks for the next one this long before it sleeps: a request's parts come
 * a millisecond or less apart, and on a busy virtual machine a thread woken from sleep starts about a
 * millisecond late (OpenMP's threads, PyTorch's, spin the same way).
 */
const SPIN_MS = 5;

/** Computes part `message` unless this side's parent withdrew it first; says how it went. */
function run(message: PartMessage): void {
  const { seq } = message;
  Atomics.store(ctrl, SLOT.SEEN, seq);
  const last = Atomics.load(ctrl, SLOT.PICK);
  if (Math.abs(last) !== seq - 1 || Atomics.compareExchange(ctrl, SLOT.PICK, last, seq) !== last) return;
  for (const end = performance.now() + message.holdMs; performance.now() < end; ) {
    // held up (tests)
  }
  let status: number = STATUS.OK;
  try {
    useBackend(message.backend);
    const task = TASKS[message.task];
    if (!task) throw new Error(`unknown task ${message.task}`);
    const claim = (i: number) => Atomics.compareExchange(ctrl, SLOT.CLAIMS + i, CLAIM.FREE, CLAIM.HELPER) === CLAIM.FREE;
    cancellable(() => Atomics.load(ctrl, SLOT.STOP) === seq, () => task(message.args as never, message.arrays, claim));
  } catch (err) {
    status = err instanceof Cancelled ? STATUS.CANCELLED : STATUS.FAILED;
    if (status === STATUS.FAILED) port.postMessage((err as Error).stack ?? String(err));
  }
  Atomics.store(ctrl, SLOT.STATUS, status);
  Atomics.store(ctrl, SLOT.DONE, seq);
  Atomics.notify(ctrl, SLOT.DONE);
}

let seen = 0;
for (;;) {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(ctrl, SLOT.SEQ) === seen && performance.now() < until) {
    // spinning
  }
  Atomics.wait(ctrl, SLOT.SEQ, seen);
  seen = Atomics.load(ctrl, SLOT.SEQ);
  // every part posted since the last look, in order (those withdrawn meanwhile are passed over)
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) run(m.message as PartMessage);
}

// The second-core helper of a computing thread (engine/split.ts): it sleeps until a part is posted,
// computes it on the arena's views, and says how it went. It runs the same op code as its parent, with
// the same gemm backend, each OpenBLAS product on one thread (its parent holds the library's count).
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Cancelled, cancellable } from './cancel.js';
import { blasInfo, gemmBackend, holdBlasThreads, initKernels, setGemmBackend } from './kernels/index.js';
import { referenceBackend } from './kernels/reference.js';
import { convPart } from './ops/shared/conv.js';
import { SLOT, STATUS, type PartMessage } from './split.js';

const TASKS: Record<string, (args: never, arrays: PartMessage['arrays']) => void> = { conv: convPart };

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

let seq = 0;
for (;;) {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(ctrl, SLOT.SEQ) === seq && performance.now() < until) {
    // spinning
  }
  Atomics.wait(ctrl, SLOT.SEQ, seq);
  seq = Atomics.load(ctrl, SLOT.SEQ);
  const message = receiveMessageOnPort(port)?.message as PartMessage | undefined;
  let status: number = STATUS.OK;
  try {
    if (!message) throw new Error(`part ${seq} came without its message`);
    useBackend(message.backend);
    const task = TASKS[message.task];
    if (!task) throw new Error(`unknown task ${message.task}`);
    cancellable(() => Atomics.load(ctrl, SLOT.STOP) === seq, () => task(message.args as never, message.arrays));
  } catch (err) {
    status = err instanceof Cancelled ? STATUS.CANCELLED : STATUS.FAILED;
    if (status === STATUS.FAILED) port.postMessage((err as Error).stack ?? String(err));
  }
  Atomics.store(ctrl, SLOT.STATUS, status);
  Atomics.store(ctrl, SLOT.DONE, seq);
  Atomics.notify(ctrl, SLOT.DONE);
}

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/workers/protocol.js';
import { ThreadEnded, Threads } from '../../src/workers/threads.js';
import { waitFor } from '../reliability/helpers.js';

// The pool's threads alone (workers/threads.ts), on a worker module whose tasks say what to do.

const filename = path.join(import.meta.dirname, 'fixtures/probe-worker.mjs');

/** A batch of tasks of these kinds (the fixture reads nothing else). */
const batch = (...kinds: string[]): Batch => ({ batch: kinds.map((kind) => ({ task: { kind }, control: new Int32Array(3), submittedAt: 0 })) as never });

async function withThreads(count: number, test: (threads: Threads) => Promise<void>, workerData: unknown = {}): Promise<void> {
  const threads = new Threads({ filename, count, workerData });
  try {
    await test(threads);
  } finally {
    await threads.close();
  }
}

const threadOf = async (threads: Threads, ...kinds: string[]) =>
  ((await threads.run(batch(...kinds), []).replies) as { result: { threadId: number } }[]).map((r) => r.result.threadId);

describe('Threads', () => {
  it('answers a batch\'s replies in order, and gives the next batch to the thread that ran the last', async () => {
    await withThreads(2, async (threads) => {
      const [first, second] = await threadOf(threads, 'who', 'who');
      expect(second).toBe(first);
      for (let i = 0; i < 5; i++) expect(await threadOf(threads, 'who')).toEqual([first]);
      // two at once take both threads
      const both = await Promise.all([threadOf(threads, 'who'), threadOf(threads, 'who')]);
      expect(new Set(both.flat()).size).toBe(2);
      expect(threads.started).toBe(2);
    });
  });

  it('fails the batch of a thread that exits, and replaces the thread at once', async () => {
    await withThreads(1, async (threads) => {
      const [before] = await threadOf(threads, 'who');
      const err = await threads.run(batch('who', 'exit'), []).replies.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ThreadEnded);
      expect(err).toMatchObject({ terminated: false, message: 'worker exited with code: 3' });
      expect(threads.started).toBe(2);
      const [after] = await threadOf(threads, 'who');
      expect(after).not.toBe(before);
    });
  });

  it('ends a thread on terminate(): its batch fails as terminated, and another thread takes its place', async () => {
    await withThreads(1, async (threads) => {
      await waitFor(() => threads.loading === 0, 5_000, 'the thread loaded');
      const running = threads.run(batch('hang'), []);
      running.terminate();
      const err = await running.replies.catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ThreadEnded', terminated: true });
      expect(await threadOf(threads, 'who')).toHaveLength(1);
      expect(threads.started).toBe(2);
    });
  });

  it('fails a batch whose tasks throw with their error, and keeps the thread', async () => {
    await withThreads(1, async (threads) => {
      const [before] = await threadOf(threads, 'who');
      await expect(threads.run(batch('throw'), []).replies).rejects.toThrow('a fault of the worker');
      expect(await threadOf(threads, 'who')).toEqual([before]);
      expect(threads.started).toBe(1);
    });
  });

  it('does not replace a thread whose module fails to load: its batch and the next fail with the load error', async () => {
    await withThreads(
      1,
      async (threads) => {
        const err = await threads.run(batch('who'), []).replies.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ThreadEnded);
        expect((err as Error).message).toMatch(/does not load/);
        await expect(threads.run(batch('who'), []).replies).rejects.toThrow(/does not load/);
        expect(threads.started).toBe(1);
      },
      { failToLoad: true },
    );
  });

  it('counts the threads still loading (the pool waits for them before closing)', async () => {
    await withThreads(2, async (threads) => expect(threads.loading).toBe(2), { neverLoads: true });
  });
});

import { createRequire } from 'node:module';

// NOTE (speed): on the hosts measured here, memory the kernel hands out afresh is dear at its first
// touch, page by page, against memory the allocator already holds (docs/operations.md "Memory" has
// the figures). glibc gives a freed block above its mmap threshold straight back to the kernel and trims
// the heap's free top above its trim threshold, and it raises the mmap threshold only as far as
// blocks it has seen freed: so a large request's body, tensors and answer were faulted in afresh on
// every request. Each process and worker thread now keeps what it freed, up to TRIM_BYTES free at
// the top of each of its arenas, for the next request (docs/operations.md "Memory").

/** blocks up to this size come from the allocator's heaps, not their own mapping (glibc's largest) */
const MMAP_THRESHOLD_BYTES = 32 * 2 ** 20;
/** free memory each arena keeps before giving it back */
const TRIM_BYTES = 64 * 2 ** 20;
// glibc's <malloc.h>
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;

/**
 * Makes glibc's allocator keep memory it freed (above). Whether it took: false where the C library is
 * not glibc (musl has no mallopt) or koffi cannot load it, which only costs the speed above.
 */
export function keepFreedMemory(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    // loaded here, not imported: a platform without koffi's binary still starts
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const mallopt = koffi.load('libc.so.6').func('int mallopt(int param, int value)') as (param: number, value: number) => number;
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) === 1 && mallopt(M_TRIM_THRESHOLD, TRIM_BYTES) === 1;
  } catch {
    return false;
  }
}

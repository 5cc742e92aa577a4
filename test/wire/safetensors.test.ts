import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/errors.js';
import { SpecError } from '../../src/engine/errors.js';
import type { Tensor } from '../../src/engine/tensor.js';
import fc from 'fast-check';
import { binaryData, MAX_HEADER_BYTES, readSafetensors, SafetensorsReader, writeSafetensors, type SafetensorsFile } from '../../src/wire/safetensors.js';
import { bodyOf } from '../../src/wire/safetensors-body.js';
import { collectTransferables } from '../../src/wire/ownership.js';
import { file, readFile, safetensors } from './safetensors-helpers.js';

// The safetensors codec on its own: layout checks, conversions, the writer, and buffer ownership.

/** The body read as the server reads one of known length: as it arrives, in chunks of `size` bytes. */
function readStreamed(body: Buffer, size: number): SafetensorsFile {
  const reader = new SafetensorsReader(body.length);
  for (let i = 0; i < body.length; i += size) reader.push(body.subarray(i, i + size));
  return reader.end();
}

/** Refused alike whole (readSafetensors) and as it arrives (SafetensorsReader, 7-byte chunks). */
function rejects(body: Buffer, code: string, detail: RegExp, path?: string): void {
  for (const read of [readSafetensors, (b: Buffer) => readStreamed(b, 7)]) {
    try {
      read(body);
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      const e = err as HttpError;
      expect(e.code).toBe(code);
      expect(e.message).toMatch(detail);
      if (path !== undefined) expect(e.issues[0]?.path).toBe(path);
      continue;
    }
    throw new Error(`accepted by ${read.name || 'the streamed reader'}`);
  }
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
const header = (h: Record<string, unknown>) => JSON.stringify(h);

describe('readSafetensors', () => {
  it('reads a valid file: names, dtypes, shapes, views of the right bytes, metadata', () => {
    const body = safetensors({ a: { dtype: 'F32', shape: [2], values: [1.5, -2] }, b: { dtype: 'I64', shape: [], values: [7] } }, { x: 1 }, { extraMeta: { format: 'pt' } });
    const f = readSafetensors(body);
    expect(f.metadata).toEqual({ format: 'pt', json: '{"x":1}' });
    expect(f.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([['a', 'F32', [2]], ['b', 'I64', []]]);
    expect(Array.from(binaryData(f.tensors[0]!, 'float32'))).toEqual([1.5, -2]);
    expect(Array.from(binaryData(f.tensors[1]!, 'float64'))).toEqual([7]);
    // a buffer of its own, whole, so the worker can recycle it (src/wire/safetensors.ts)
    const d = binaryData(f.tensors[0]!, 'float32');
    expect(d.buffer).not.toBe(body.buffer);
    expect(d.byteLength).toBe(d.buffer.byteLength);
  });

  it('reads a body as it arrives, whatever its chunks: the same tensors as whole, each on a buffer of its own', () => {
    const dtypes = ['F32', 'F64', 'I32', 'I64'] as const;
    const tensor = fc.record({
      dtype: fc.constantFrom(...dtypes),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c', 'inputs', 'targets'), tensor, { maxKeys: 4 }), fc.integer({ min: 1, max: 64 }), fc.boolean(), (specs, chunk, pad) => {
        const tensors = Object.fromEntries(
          Object.entries(specs).map(([name, t]) => {
            const n = t.shape.reduce((a, b) => a * b, 1);
            return [name, { ...t, values: Array.from({ length: n }, (_, i) => i - 3) }];
          }),
        );
        const body = safetensors(tensors, { x: 1 }, { pad });
        const whole = readSafetensors(body);
        const streamed = readStreamed(body, chunk);
        expect(streamed.metadata).toEqual(whole.metadata);
        expect(streamed.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(whole.tensors.map((t) => [t.name, t.dtype, t.shape]));
        streamed.tensors.forEach((t, i) => {
          expect(Array.from(t.bytes)).toEqual(Array.from(whole.tensors[i]!.bytes));
          expect(t.bytes.byteOffset).toBe(0);
          expect(t.bytes.byteLength).toBe(t.bytes.buffer.byteLength);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('uses a tensor read onto its own buffer as it is, converting nothing', () => {
    const body = safetensors({ a: { dtype: 'F32', shape: [3], values: [1, 2, 3] } });
    const t = readStreamed(body, 5).tensors[0]!;
    const d = binaryData(t, 'float32');
    expect(d.buffer).toBe(t.bytes.buffer);
    expect(Array.from(d)).toEqual([1, 2, 3]);
  });

  it('makes a tensor\'s buffer only once its bytes arrive, not when the header announces them', () => {
    const mb = 64;
    const text = JSON.stringify({ big: { dtype: 'F32', shape: [mb * 262144], data_offsets: [0, mb * 1048576] } });
    const head = file(text, new Uint8Array(0));
    const reader = new SafetensorsReader(head.length + mb * 1048576);
    const before = process.memoryUsage().arrayBuffers;
    reader.push(head);
    reader.push(Buffer.alloc(0));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(mb * 1048576 / 4);
    expect(() => reader.end()).toThrow(/ended after 0 of its 67108864 bytes/);
  });

  it('refuses every malformed layout with a 4xx naming the tensor', () => {
    rejects(Buffer.alloc(5), 'INVALID_BODY', /8-byte header length/);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 63n);
    // the length as written, not rounded to a double (9223372036854776000)
    rejects(huge, 'INVALID_BODY', /^the header length 9223372036854775808 \(.*runs past the end of the 16-byte body$/);
    // a header over the cap that the body does hold
    const big = Buffer.alloc(8 + MAX_HEADER_BYTES + 1);
    big.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1));
    rejects(big, 'BODY_TOO_LARGE', /over the limit/);
    rejects(Buffer.from(JSON.stringify({ model: { ref: 'sha256:00' } })), 'INVALID_BODY', /starts like JSON, which goes with Content-Type: application\/json/);
    const past = Buffer.alloc(16);
    past.writeBigUInt64LE(100n);
    rejects(past, 'INVALID_BODY', /runs past the end/);
    rejects(file('{"a":', new Uint8Array()), 'INVALID_BODY', /not valid JSON/);
    rejects(file('[1, 2]', new Uint8Array()), 'INVALID_BODY', /not a JSON object/);
    rejects(file('null', new Uint8Array()), 'INVALID_BODY', /not a JSON object/);
    const d8 = new Uint8Array(8);
    rejects(file(header({ a: entry('F32', [2], 0, 8), b: entry('F32', [1], 4, 8) }), d8), 'INVALID_BODY', /overlap/, 'b');
    rejects(file(header({ a: entry('F32', [1], 0, 4), b: entry('F32', [0], 8, 8) }), d8), 'INVALID_BODY', /hole/, 'b');
    rejects(file(header({ a: entry('F32', [1], 4, 8) }), d8), 'INVALID_BODY', /hole/, 'a');
    rejects(file(header({ a: entry('F32', [1], 0, 4) }), d8), 'INVALID_BODY', /cover 4/);
    rejects(file(header({ a: entry('F32', [3], 0, 12) }), d8), 'INVALID_BODY', /outside/, 'a');
    rejects(file(header({ a: entry('F32', [1], 8, 4) }), d8), 'INVALID_BODY', /outside/, 'a');
    rejects(file(header({ a: entry('F32', [3], 0, 8) }), d8), 'INVALID_BODY', /needs 12/, 'a');
    rejects(file(header({ a: entry('U16', [4], 0, 8) }), d8), 'INVALID_BODY', /dtype "U16" is not one of/, 'a');
    rejects(file(header({ a: { shape: [2], data_offsets: [0, 8] } }), d8), 'INVALID_BODY', /dtype missing/, 'a');
    rejects(file(header({ a: entry('F32', [-2], 0, 8) }), d8), 'INVALID_BODY', /shape/, 'a');
    rejects(file(header({ a: entry('F32', [1.5], 0, 8) }), d8), 'INVALID_BODY', /shape/, 'a');
    rejects(file(header({ a: entry('F32', [1, 1, 1, 1, 1, 1, 1, 1, 2], 0, 8) }), d8), 'INVALID_BODY', /shape/, 'a');
    rejects(file(header({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }), d8), 'INVALID_BODY', /data_offsets/, 'a');
    rejects(file(header({ a: { ...entry('F32', [2], 0, 8), extra: 1 } }), d8), 'INVALID_BODY', /unknown field "extra"/, 'a');
    rejects(file(header({ a: 3 }), d8), 'INVALID_BODY', /not an object/, 'a');
    rejects(file(header({ __metadata__: { json: 1 } }), new Uint8Array()), 'INVALID_BODY', /not a string/);
    rejects(file(header({ __metadata__: [] }), new Uint8Array()), 'INVALID_BODY', /not an object/);
    // dimensions whose product is not a safe integer never match the bytes
    rejects(file(header({ a: entry('F64', [2 ** 31, 2 ** 31, 2 ** 31, 2 ** 31], 0, 8) }), d8), 'INVALID_BODY', /needs/, 'a');
  });

  it('refuses a name given twice in the header (JSON.parse would keep the last silently)', () => {
    const text = `{"a":${JSON.stringify(entry('F32', [1], 0, 4))},"a":${JSON.stringify(entry('F32', [1], 4, 8))}}`;
    rejects(file(text, new Uint8Array(8)), 'INVALID_BODY', /"a" twice/, 'a');
    // an escaped spelling of the same name, and a duplicate inside __metadata__
    const escaped = `{"\\u0061":${JSON.stringify(entry('F32', [1], 0, 4))},"a":${JSON.stringify(entry('F32', [1], 0, 4))}}`;
    rejects(file(escaped, new Uint8Array(4)), 'INVALID_BODY', /"a" twice/);
    rejects(file('{"__metadata__":{"json":"{}","json":"{\\"model\\":1}"}}', new Uint8Array()), 'INVALID_BODY', /"json" twice/);
    // equal keys in different objects, and key-like strings inside values, are fine
    const ok = `{"__metadata__":{"json":"{\\"a\\":{\\"a\\":1},\\"b\\":[\\"a\\",\\"a\\"]}"},"a":${JSON.stringify(entry('F32', [0], 0, 0))}}`;
    expect(readSafetensors(file(ok, new Uint8Array())).tensors[0]!.name).toBe('a');
  });
});

describe('binaryData', () => {
  const one = (dtype: string, bytes: Uint8Array, shape = [bytes.length / (dtype.includes('16') ? 2 : dtype.endsWith('64') ? 8 : 4)]) =>
    readSafetensors(file(header({ t: entry(dtype, shape, 0, bytes.length) }), bytes)).tensors[0]!;

  it('NaN and ±Inf are a 422 at the tensor, in every float dtype', () => {
    for (const [dtype, bytes] of [
      ['F32', new Uint8Array(new Float32Array([1, NaN]).buffer)],
      ['F64', new Uint8Array(new Float64Array([1, -Infinity]).buffer)],
      ['F16', new Uint8Array(new Uint16Array([0x3c00, 0x7e00]).buffer)],
      ['BF16', new Uint8Array(new Uint16Array([0x3f80, 0xff80]).buffer)],
    ] as const) {
      expect(() => binaryData(one(dtype, bytes), 'float32')).toThrow(SpecError);
      try {
        binaryData(one(dtype, bytes), 'float64');
      } catch (e) {
        expect((e as SpecError).issues[0]).toEqual({ path: ['t'], message: expect.stringMatching(/^element 1 is not finite/) });
      }
    }
  });

  it('a float tensor read as it arrives, checked as its last byte comes, is refused at its first element not finite, and only then', () => {
    const bad = fc.constantFrom(NaN, Infinity, -Infinity);
    fc.assert(
      fc.property(
        fc.constantFrom('F32', 'F64'),
        fc.array(fc.oneof(fc.double({ min: -1e30, max: 1e30, noNaN: true }), bad), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 97 }),
        (dtype, values, chunk) => {
          const data = dtype === 'F32' ? new Float32Array(values) : new Float64Array(values);
          // a tensor before it, so that its bytes start in the middle of a chunk
          const tensors: [string, Tensor][] = [
            ['a', { shape: [3], data: new Float64Array([1, 2, 3]) }],
            ['t', { shape: [data.length], data }],
          ];
          const [, t] = readStreamed(writeSafetensors(tensors, {}), chunk).tensors;
          if (t === undefined) throw new Error('tensor t was not read');
          const first = Array.from(data).findIndex((v) => !Number.isFinite(v));
          expect(t.nonFinite).toBe(first);
          if (first < 0) expect(Array.from(binaryData(t, 'float64'))).toEqual(Array.from(data));
          else expect(() => binaryData(t, 'float64')).toThrow(new RegExp(`^t: element ${first} is not finite`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('integers convert exactly up to ±2^53, and refuse beyond', () => {
    const ok = new Uint8Array(BigInt64Array.from([2n ** 53n, -(2n ** 53n), -1n]).buffer);
    expect(Array.from(binaryData(one('I64', ok), 'float64'))).toEqual([2 ** 53, -(2 ** 53), -1]);
    const over = new Uint8Array(BigInt64Array.from([0n, 2n ** 53n + 1n]).buffer);
    expect(() => binaryData(one('I64', over), 'float64')).toThrow(/element 1 .* beyond ±2\^53/);
    const i32 = new Uint8Array(Int32Array.from([-(2 ** 31), 2 ** 31 - 1]).buffer);
    expect(Array.from(binaryData(one('I32', i32), 'float64'))).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    // into float32, exact to ±2^24 only
    expect(() => binaryData(one('I32', i32), 'float32')).toThrow(/element 0 \(-2147483648\) is beyond ±2\^24, where integers stay exact in float32/);
    const ids = new Uint8Array(BigInt64Array.from([2n ** 24n, -100n]).buffer);
    expect(binaryData(one('I64', ids), 'float32')).toEqual(new Float32Array([2 ** 24, -100]));
  });

  it('F16 widens exactly: every one of the 63,488 finite half-precision values', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const finite = all.filter((h) => (h & 0x7c00) !== 0x7c00);
    const got = binaryData(one('F16', new Uint8Array(finite.buffer)), 'float64');
    for (let i = 0; i < finite.length; i++) {
      const h = finite[i]!;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      const v = (h & 0x8000 ? -1 : 1) * (e === 0 ? m / 1024 * 2 ** -14 : (1 + m / 1024) * 2 ** (e - 15));
      if (got[i] !== v) throw new Error(`F16 ${h.toString(16)}: ${got[i]} ≠ ${v}`);
    }
    expect(got.length).toBe(63488);
  });

  it('F32 into float64 and F64 into float32 convert; an unaligned tensor is copied', () => {
    const f = readSafetensors(safetensors({ a: { dtype: 'F32', shape: [1], values: [0.1] }, b: { dtype: 'F64', shape: [1], values: [0.1] } }));
    expect(binaryData(f.tensors[0]!, 'float64')[0]).toBe(Math.fround(0.1));
    expect(binaryData(f.tensors[1]!, 'float32')[0]).toBe(Math.fround(0.1));
    const odd = Buffer.concat([Buffer.alloc(1), safetensors({ a: { dtype: 'F64', shape: [2], values: [1, 2] } })]).subarray(1);
    const t = readSafetensors(odd).tensors[0]!;
    expect(t.bytes.byteOffset % 8).not.toBe(0);
    const d = binaryData(t, 'float64');
    expect(Array.from(d)).toEqual([1, 2]);
    expect(d.buffer).not.toBe(odd.buffer);
  });
});

describe('bodyOf', () => {
  const body = (tensors: Parameters<typeof safetensors>[0], json?: unknown) => bodyOf(readSafetensors(safetensors(tensors, json)));
  const t = { dtype: 'F32', shape: [], values: [1] };

  it('places a placeholder at each tensor\'s path, inside what __metadata__.json holds', () => {
    expect(body({ 'params/w': t, 'inputs/x': t, 'optimizer/state/state/w/exp_avg': t }, { model: { type: 'graph' }, optimizer: { type: 'adam' } })).toEqual({
      model: { type: 'graph' },
      params: { w: 0 },
      inputs: { x: 0 },
      optimizer: { type: 'adam', state: { state: { w: { exp_avg: 0 } } } },
    });
  });

  it('reads the names an answer writes for an ONNX file\'s initializers: digits first, "/" inside', () => {
    expect(body({ 'params/0.weight': t, 'params/dense/kernel:0': t, 'optimizer/state/state/dense/kernel:0/exp_avg': t, 'inputs/x/y': t })).toEqual({
      params: { '0.weight': 0, 'dense/kernel:0': 0 },
      inputs: { 'x/y': 0 },
      optimizer: { state: { state: { 'dense/kernel:0': { exp_avg: 0 } } } },
    });
  });

  it('infers float64 from all-F64 float tensors, only when options.dtype is absent', () => {
    const f64 = { dtype: 'F64', shape: [], values: [1] };
    const i64 = { dtype: 'I64', shape: [], values: [1] };
    expect(body({ inputs: f64, targets: i64 }).options).toEqual({ dtype: 'float64' });
    expect(body({ inputs: f64, targets: t }).options).toBeUndefined();
    expect(body({ inputs: f64 }, { options: { dtype: 'float32' } }).options).toEqual({ dtype: 'float32' });
    expect(body({ targets: i64 }).options).toBeUndefined();
  });

  it('refuses invalid names, a tensor given twice, a parent that is not an object, bad metadata', () => {
    const fails = (f: () => unknown, path: string, message: RegExp) => {
      try {
        f();
      } catch (e) {
        expect((e as HttpError).code).toBe('INVALID_BODY');
        expect((e as HttpError).issues[0]!.path).toBe(path);
        expect((e as HttpError).message).toMatch(message);
        return;
      }
      throw new Error('accepted');
    };
    for (const name of ['weights', 'params', 'params/', 'params/__proto__', 'params/constructor', 'optimizer/state/state/w', 'optimizer/state/state//exp_avg', 'optimizer/state/state/w/1x', 'model/constants', '']) {
      fails(() => body({ [name]: t }), name, /names no tensor field/);
    }
    fails(() => body({ inputs: t }, { inputs: [1] }), 'inputs', /given twice/);
    fails(() => body({ 'inputs/x': t, inputs: t }), 'inputs', /given twice/);
    fails(() => body({ inputs: t, 'inputs/x': t }), 'inputs/x', /other than an object/);
    fails(() => body({ 'params/w': t }, { params: [1] }), 'params/w', /other than an object/);
    fails(() => bodyOf(readSafetensors(safetensors({}, undefined, { extraMeta: { json: '[1]' } }))), '__metadata__.json', /not a JSON object/);
    fails(() => bodyOf(readSafetensors(safetensors({}, undefined, { extraMeta: { json: '{"__proto__": {"x": 1}}' } }))), '__metadata__.json', /__proto__/);
  });
});

describe('writeSafetensors', () => {
  it('writes a file the format\'s reader reads back: header padded to 8, F32 and F64, metadata', () => {
    const out = writeSafetensors(
      [['g/a', { shape: [3], data: new Float32Array([1, 2, 3]) }], ['g/b', { shape: [1, 1], data: new Float64Array([0.1]) }], ['e', { shape: [0], data: new Float32Array(0) }]],
      { json: '{"loss":1}' },
    );
    const f = readFile(out);
    expect(f.dataStart % 8).toBe(0);
    expect(f.json).toEqual({ loss: 1 });
    expect(f.tensors['g/a']).toEqual({ dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) });
    expect(f.tensors['g/b']).toEqual({ dtype: 'F64', shape: [1, 1], data: new Float64Array([0.1]) });
    expect(readSafetensors(out).tensors.map((t) => t.name)).toEqual(['g/a', 'g/b', 'e']);
  });
});

describe('collectTransferables', () => {
  it('moves a buffer a tensor owns whole, once; copies a view into part of a buffer first', () => {
    const whole = new Float32Array(4);
    const view = new Float32Array(new ArrayBuffer(64), 16, 2);
    const task = { job: { params: { a: whole, b: whole }, inputs: view } };
    const list = collectTransferables(task);
    expect(task.job.params.a).toBe(whole);
    expect(task.job.inputs).not.toBe(view);
    expect(task.job.inputs.byteLength).toBe(task.job.inputs.buffer.byteLength);
    expect(list).toEqual([whole.buffer, task.job.inputs.buffer]);
  });
});

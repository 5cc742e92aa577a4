// Writes src/wire/onnx/onnx.proto.json, the protobufjs descriptor of the vendored official schema
// src/wire/onnx/onnx.proto (onnx/onnx, onnx/onnx.proto), so the service loads the schema as a module
// (tsc copies it to dist/) instead of parsing the .proto at start.
//     node scripts/gen-onnx-schema.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const dir = new URL('../src/wire/onnx/', import.meta.url);
const { root } = protobuf.parse(readFileSync(new URL('onnx.proto', dir), 'utf8'), { keepCase: true });
writeFileSync(new URL('onnx.proto.json', dir), JSON.stringify(root.toJSON(), null, 1) + '\n');

// Runs node tests (test_*/model.onnx + test_data_set_0/{input,output}_N.pb) on onnxruntime-node and
// compares its outputs with the stored expected outputs: a second oracle for the numpy-computed
// expectations of make_extra_node_tests.py. Integers and booleans must match exactly, floats within
// 1e-5 relative (NaN matches NaN).
// Usage: node ort_check_node_tests.mjs DIR GLOB...   (GLOB: '*' wildcards over test names)
// Exit 0 only if every selected test ran on onnxruntime and matched (or is a CPU_UNIMPLEMENTED case
// that failed as listed, its twin selected and matching); at least one must be selected.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../peers/package.json', import.meta.url));
const ort = require('onnxruntime-node');

// --- a TensorProto reader for what onnx.numpy_helper.from_array writes (dims, data_type, name, raw_data)
function varint(buf, pos) {
  let v = 0n, shift = 0n;
  for (;;) {
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

const TYPES = { // ONNX data_type -> [ort type, typed array]
  1: ['float32', Float32Array], 6: ['int32', Int32Array], 7: ['int64', BigInt64Array],
  9: ['bool', Uint8Array], 10: ['float16', Uint16Array], 11: ['float64', Float64Array],
  2: ['uint8', Uint8Array], 3: ['int8', Int8Array],
};

function readTensor(file) {
  const buf = fs.readFileSync(file);
  let pos = 0, dims = [], dtype = 0, name = '', raw = null;
  while (pos < buf.length) {
    let key;
    [key, pos] = varint(buf, pos);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = varint(buf, pos);
      if (field === 1) dims.push(Number(BigInt.asIntN(64, v)));
      else if (field === 2) dtype = Number(v);
    } else if (wire === 2) {
      let len;
      [len, pos] = varint(buf, pos);
      const bytes = buf.subarray(pos, pos + Number(len));
      pos += Number(len);
      if (field === 1) { // packed dims
        for (let p = 0; p < bytes.length;) { let v; [v, p] = varint(bytes, p); dims.push(Number(BigInt.asIntN(64, v))); }
      } else if (field === 8) name = bytes.toString('utf8');
      else if (field === 9) raw = bytes;
      else throw new Error(`${file}: field ${field} (typed data fields) is not supported; expected raw_data`);
    } else throw new Error(`${file}: unexpected protobuf wire type ${wire}`);
  }
  const t = TYPES[dtype];
  if (!t) throw new Error(`${file}: data_type ${dtype} is not supported`);
  const bytes = raw ?? Buffer.alloc(0);
  const copy = new Uint8Array(bytes); // aligned
  const data = new t[1](copy.buffer, 0, copy.byteLength / t[1].BYTES_PER_ELEMENT);
  return { name, tensor: new ort.Tensor(t[0], data, dims) };
}

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function compare(got, want) {
  if (got.type !== want.type) return `type ${got.type}, expected ${want.type}`;
  if (JSON.stringify(got.dims) !== JSON.stringify(want.dims))
    return `shape [${got.dims}], expected [${want.dims}]`;
  const isFloat = ['float32', 'float64', 'float16'].includes(want.type);
  for (let i = 0; i < want.data.length; ++i) {
    let g = got.data[i], w = want.data[i];
    if (want.type === 'float16') { g = f16ToF32(g); w = f16ToF32(w); }
    const ok = isFloat ? (Number.isNaN(w) ? Number.isNaN(g) : (g === w || Math.abs(g - w) <= 1e-5 * (1 + Math.abs(w))))
                       : g === w;
    if (!ok) return `element ${i}: ${g}, expected ${w}`;
  }
  return '';
}

// Forms onnxruntime's CPU kernels do not implement (contrib_ops/cpu/bert/multihead_attention.cc), each
// with the twin that make_extra_node_tests.py writes with the same numbers in a form they run and the
// same expected outputs. Such a case must fail on onnxruntime with `error` (the entry goes stale loudly
// once onnxruntime implements it) and its twin must be selected and match.
const CPU_UNIMPLEMENTED = {
  test_contrib_mha_packed_qkv_causal: { error: 'Packed QKV of shape (B, L, N, 3, H) not implemented for CPU',
                                        twin: 'test_contrib_mha_packed_qkv_causal_twin' },
  test_contrib_mha_packed_kv_padding_mask: { error: 'Packed KV not implemented for CPU',
                                             twin: 'test_contrib_mha_packed_kv_padding_mask_twin' },
};

const [dir, ...globs] = process.argv.slice(2);
if (!dir || !globs.length) {
  console.error('usage: node ort_check_node_tests.mjs DIR GLOB...');
  process.exit(2);
}
const res = globs.map((g) => new RegExp('^' + g.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$'));
const tests = fs.readdirSync(dir).filter((t) => t.startsWith('test_') && res.some((r) => r.test(t))).sort();
if (!tests.length) {
  console.error(`ort_check_node_tests: no tests in ${dir} match ${globs.join(' ')}`);
  process.exit(1);
}
let failed = 0;
const passed = new Set(), unimplemented = [];
let viaTwin = 0;
for (const t of tests) {
  const set = path.join(dir, t, 'test_data_set_0');
  const files = (kind) => fs.readdirSync(set).filter((f) => f.startsWith(kind)).sort((a, b) => parseInt(a.slice(kind.length)) - parseInt(b.slice(kind.length)));
  try {
    const feeds = {};
    for (const f of files('input_')) { const { name, tensor } = readTensor(path.join(set, f)); feeds[name] = tensor; }
    const session = await ort.InferenceSession.create(path.join(dir, t, 'model.onnx'));
    const out = await session.run(feeds);
    const why = [];
    for (const f of files('output_')) {
      const { name, tensor } = readTensor(path.join(set, f));
      if (!(name in out)) { why.push(`output '${name}' missing`); continue; }
      const w = compare(out[name], tensor);
      if (w) why.push(`output '${name}': ${w}`);
    }
    if (CPU_UNIMPLEMENTED[t]) why.push('listed in CPU_UNIMPLEMENTED but onnxruntime ran it: check it directly');
    if (why.length) { ++failed; console.log(`FAIL ${t}: ${why.join('; ')}`); } else { passed.add(t); console.log(`PASS ${t}`); }
  } catch (e) {
    const msg = String(e.message ?? e).split('\n')[0];
    if (CPU_UNIMPLEMENTED[t] && msg.includes(CPU_UNIMPLEMENTED[t].error)) unimplemented.push(t);
    else { ++failed; console.log(`FAIL ${t}: onnxruntime: ${msg}`); }
  }
}
for (const t of unimplemented) {
  const twin = CPU_UNIMPLEMENTED[t].twin;
  if (passed.has(twin)) ++viaTwin, console.log(`TWIN ${t}: onnxruntime's CPU kernel does not implement it; ${twin} (same numbers) matches`);
  else { ++failed; console.log(`FAIL ${t}: onnxruntime's CPU kernel does not implement it and its twin ${twin} was not selected or did not match`); }
}
const twins = viaTwin ? `; ${viaTwin} that its CPU kernels do not implement checked through their twins` : '';
console.log(`\nonnxruntime ${ort.env.versions.node}: ${tests.length - failed - viaTwin} of ${tests.length} match the expected outputs${twins}`);
process.exit(failed ? 1 : 0);

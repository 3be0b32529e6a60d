#!/usr/bin/env node
// One run of any ONNX graph on onnxruntime (CPU) with the inputs given on the command line: the
// peer of the e2e tests that check bmc refuses what onnxruntime refuses (tests/e2e/errors_test.cpp).
//
// Usage: node ort_run.mjs model.onnx NAME=TYPE:DIMS:VALUES ...
//   TYPE f32 or i64; DIMS and VALUES comma-separated (DIMS empty for a scalar), e.g.
//   x=f32:1,3:0.5,1,2 shape=i64:2:-2,3
// Output: one JSON object on stdout, exit 0 either way: {"outputs": {name: {"dims": [...],
// "data": [...]}}} when the run succeeds, {"error": "first line of onnxruntime's message"} when
// session creation or the run fails. Exit 2 on bad arguments.
import * as ort from 'onnxruntime-node';

function usage(msg) {
  console.error(`ort_run: ${msg}`);
  console.error('usage: node ort_run.mjs model.onnx NAME=TYPE:DIMS:VALUES ...   (TYPE f32 or i64)');
  process.exit(2);
}

const [model, ...specs] = process.argv.slice(2);
if (!model) usage('no model');
const feeds = {};
for (const spec of specs) {
  const m = /^([^=]+)=(f32|i64):([-0-9,]*):(.*)$/.exec(spec);
  if (!m) usage(`'${spec}' is not NAME=TYPE:DIMS:VALUES`);
  const [, name, type, dimText, valueText] = m;
  const dims = dimText === '' ? [] : dimText.split(',').map(Number);
  const values = valueText === '' ? [] : valueText.split(',');
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) usage(`'${name}': ${values.length} values for dims [${dims}]`);
  feeds[name] = type === 'f32' ? new ort.Tensor('float32', Float32Array.from(values.map(Number)), dims)
                               : new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}
try {
  const session = await ort.InferenceSession.create(model);
  const out = await session.run(feeds);
  const outputs = {};
  for (const [name, t] of Object.entries(out))
    outputs[name] = { dims: t.dims, data: Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v)) };
  console.log(JSON.stringify({ outputs }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message ?? e).split('\n')[0] }));
}

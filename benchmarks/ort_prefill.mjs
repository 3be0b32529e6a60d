#!/usr/bin/env node
// Prefill timing with onnxruntime-node (the peer of `bmc_bench --prefill N`): session creation,
// then one untimed (cold) prefill of N tokens and --repeat timed ones, each from an empty cache
// (past of length 0), as tests/peers/ort_decode.mjs runs its first step. One JSON line on stdout:
//   {session_create_ms, cold_ms, ttft_ms (median of the timed runs), prefill_tok_s, ...}
//
//   node benchmarks/ort_prefill.mjs model.onnx --tokens 512 [--threads T] [--repeat R]
//
// Uses the onnxruntime-node that tests/peers/setup.sh installs into tests/peers/node_modules.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../tests/peers/package.json', import.meta.url));
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.error(`ort_prefill: onnxruntime-node is not installed (run tests/peers/setup.sh): ${e.message}`);
  process.exit(1);
}

function die(msg) {
  console.error(`ort_prefill: ${msg}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const a = { model: null, tokens: 512, threads: 1, repeat: 3 };
for (let i = 0; i < argv.length; i++) {
  const k = argv[i];
  const num = () => {
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 1) die(`${k}: expected a positive integer`);
    return v;
  };
  if (k === '--tokens') a.tokens = num();
  else if (k === '--threads') a.threads = num();
  else if (k === '--repeat') a.repeat = num();
  else if (k.startsWith('--') || a.model) die(`unexpected argument '${k}'`);
  else a.model = k;
}
if (!a.model) die('usage: node ort_prefill.mjs model.onnx [--tokens N] [--threads T] [--repeat R]');

async function main() {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const createMs = performance.now() - t0;
  const meta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const logitsMeta = session.outputMetadata.find((m) => m.name === 'logits');
  const vocab = logitsMeta && typeof logitsMeta.shape[2] === 'number' ? logitsMeta.shape[2] : null;
  if (!vocab) throw new Error('the model has no logits output with a static vocab size');
  const n = a.tokens;
  const ids = new BigInt64Array(n);
  const pos = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = BigInt((i * 7919 + 104730) % vocab); // bmc_bench's prompt (salt 1)
    pos[i] = BigInt(i);
  }
  const feeds = () => {
    const f = {
      input_ids: new ort.Tensor('int64', ids, [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
      position_ids: new ort.Tensor('int64', pos, [1, n]),
    };
    for (let i = 0; meta.has(`past_key_values.${i}.key`); i++) {
      const s = meta.get(`past_key_values.${i}.key`).shape;
      for (const kind of ['key', 'value'])
        f[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, s[1], 0, s[3]]);
    }
    return f;
  };
  const c0 = performance.now();
  let out = await session.run(feeds());
  const coldMs = performance.now() - c0;
  if (out.logits.dims[1] !== n) throw new Error(`logits have ${out.logits.dims[1]} positions, expected ${n}`);
  const times = [];
  for (let r = 0; r < a.repeat; r++) {
    const s = performance.now();
    out = await session.run(feeds());
    times.push(performance.now() - s);
  }
  times.sort((x, y) => x - y);
  const ttft = times[Math.floor(times.length / 2)];
  console.log(JSON.stringify({
    peer: 'ort', ort_version: ort.env.versions?.node ?? null, threads: a.threads, prefill_tokens: n,
    session_create_ms: createMs, cold_ms: coldMs, ttft_ms: ttft, ttft_ms_min: times[0],
    prefill_tok_s: (1000 * n) / ttft, repeat: a.repeat,
  }));
}

main().catch((e) => {
  console.error(`ort_prefill: ${e.message ?? e}`);
  process.exit(1);
});

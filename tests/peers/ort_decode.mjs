#!/usr/bin/env node
// Greedy decoding of an HF-style ONNX decoder with onnxruntime (CPU): the reference ("oracle")
// that bmc must reproduce, and the peer it is benchmarked against.
//
// The loop is HuggingFace's: prefill the prompt (attention_mask all ones, position_ids 0..n-1,
// past of length 0), then one token per step, feeding each `present.*` back as `past_key_values.*`.
// A merged decoder's `use_cache_branch` is false for the prefill, true after (Optimum's choice).
// A static cache (opset 24: past_key_values.* of a fixed length MAX, inputs write_indices and
// nonpad_kv_seqlen) starts as zero buffers of MAX rows, gets write_indices = the current length and
// nonpad_kv_seqlen = that + the new tokens per row, and feeds each present buffer back as the past.
//
// Usage:
//   node ort_decode.mjs model.onnx --prompt 1,2,3 --steps N [--batch B] [--threads T]
//        [--opt disabled|basic|extended|all] [--json out.json]
//        [--dump-logits DIR [--dump-steps 0,1,5]] [--check-prefill]
//   node ort_decode.mjs model.onnx --time --context C [--steps K] [--warmup W] [--threads T]
//
// --steps N   number of new tokens; the first comes from the prefill, so N-1 decode runs.
// --dump-logits DIR  writes the logits of the last position (batch row 0) as raw little-endian
//             float32: step 0 is the prefill, step s the s-th decode run; logits of step s are
//             the ones `tokens[s]` was picked from. DIR/index.json describes the files.
// --check-prefill  afterwards runs prompt + tokens[:-1] as one prefill and compares its logits
//             with the step-by-step ones: a KV-cache path that disagrees with the full-sequence
//             path (mask, positions, cache layout) shows up here.
// --time      prefill C tokens (a fixed pseudo-random prompt), then W (default 3) untimed and K
//             (--steps, default 32) timed decode runs; reports ms/token over contexts C+W..C+W+K.
// --opt       onnxruntime graph optimisation level (default all); --threads sets intra-op threads,
//             execution is sequential.
// Output: one JSON object on stdout (and in --json): {tokens, ms_per_token, ...}.
import * as ort from 'onnxruntime-node';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

function usage(msg) {
  if (msg) console.error(`ort_decode: ${msg}`);
  console.error('usage: node ort_decode.mjs model.onnx (--prompt 1,2,3 --steps N | --time --context C) ' +
    '[--steps K] [--batch B] [--threads T] [--opt LEVEL] [--json FILE] ' +
    '[--dump-logits DIR --dump-steps 0,1,5] [--check-prefill] [--warmup W] [--seed S]');
  process.exit(2);
}

function intList(s, what) {
  const v = s.split(',').filter((x) => x !== '').map((x) => Number(x));
  if (v.length === 0 || v.some((x) => !Number.isInteger(x))) usage(`${what}: expected integers, found '${s}'`);
  return v;
}

function parseArgs(argv) {
  const a = { model: null, prompt: null, steps: null, batch: 1, threads: 1, opt: 'all', json: null,
    dumpDir: null, dumpSteps: null, checkPrefill: false, time: false, context: 64, warmup: 3, seed: 1 };
  const num = (i, name) => {
    const v = Number(argv[i]);
    if (i >= argv.length || !Number.isInteger(v) || v < 0) usage(`${name}: expected a non-negative integer`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    switch (k) {
      case '--prompt': a.prompt = intList(argv[++i] ?? '', '--prompt'); break;
      case '--steps': a.steps = num(++i, k); break;
      case '--batch': a.batch = num(++i, k); break;
      case '--threads': a.threads = num(++i, k); break;
      case '--opt': a.opt = argv[++i]; break;
      case '--json': a.json = argv[++i]; break;
      case '--dump-logits': a.dumpDir = argv[++i]; break;
      case '--dump-steps': a.dumpSteps = intList(argv[++i] ?? '', '--dump-steps'); break;
      case '--check-prefill': a.checkPrefill = true; break;
      case '--time': a.time = true; break;
      case '--context': a.context = num(++i, k); break;
      case '--warmup': a.warmup = num(++i, k); break;
      case '--seed': a.seed = num(++i, k); break;
      case '-h': case '--help':
        // The header comment of this file is the help text.
        console.log(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1)
          .filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//')))
          .map((l) => l.slice(3)).join('\n'));
        process.exit(0);
      default:
        if (k.startsWith('--') || a.model) usage(`unexpected argument '${k}'`);
        a.model = k;
    }
  }
  if (!a.model) usage('no model given');
  if (!['disabled', 'basic', 'extended', 'all'].includes(a.opt)) usage(`--opt: unknown level '${a.opt}'`);
  if (a.batch < 1) usage('--batch must be >= 1');
  if (a.time) {
    if (a.context < 1) usage('--context must be >= 1');
    a.steps ??= 32;
  } else {
    if (!a.prompt) usage('--prompt is required (or --time)');
    a.steps ??= 16;
  }
  if (a.steps < 1) usage('--steps must be >= 1');
  if (a.dumpSteps && !a.dumpDir) usage('--dump-steps needs --dump-logits DIR');
  if (a.dumpDir && !a.dumpSteps) a.dumpSteps = [0];
  return a;
}

// Reads the KV layout from the graph's inputs, so one script serves every family and size.
function describeModel(session) {
  const meta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  // GroupQueryAttention graphs may take their lengths (int32) instead of the mask.
  const hasLengths = meta.has('seqlens_k') && meta.has('total_sequence_length');
  for (const n of ['input_ids', ...(hasLengths ? [] : ['attention_mask'])])
    if (!meta.has(n)) throw new Error(`model has no input '${n}' (not an HF decoder with KV cache?)`);
  // onnxruntime-genai's GroupQueryAttention graphs with rotary in the op have no position_ids.
  const hasPositions = meta.has('position_ids');
  const staticCache = meta.has('write_indices') && meta.has('nonpad_kv_seqlen');
  const layers = [];
  for (let i = 0; meta.has(`past_key_values.${i}.key`); i++) {
    const k = meta.get(`past_key_values.${i}.key`).shape;
    if (k.length !== 4 || typeof k[1] !== 'number' || typeof k[3] !== 'number')
      throw new Error(`past_key_values.${i}.key: expected [batch, kv_heads, past, head_dim] with static heads, found [${k}]`);
    if (staticCache && typeof k[2] !== 'number')
      throw new Error(`past_key_values.${i}.key: expected a static buffer length with write_indices, found [${k}]`);
    layers.push({ kvHeads: k[1], headDim: k[3], maxRows: staticCache ? k[2] : 0 });
  }
  if (layers.length === 0) throw new Error('model has no past_key_values.* inputs');
  const logits = session.outputMetadata.find((m) => m.name === 'logits');
  const vocab = logits && typeof logits.shape[2] === 'number' ? logits.shape[2] : null;
  // Optimum's merged decoder (decoder_model_merged.onnx) picks its branch by this input.
  const hasCacheBranch = meta.has('use_cache_branch');
  // float32, or float16 for a fully fp16 export (bfloat16 caches: onnxruntime's CPU provider lacks the kernels).
  const kvType = meta.get('past_key_values.0.key').type ?? 'float32';
  if (kvType !== 'float32' && kvType !== 'float16')
    throw new Error(`past_key_values.0.key: expected float32 or float16, found ${kvType}`);
  return { layers, vocab, hasPositions, hasLengths, hasCacheBranch, staticCache, kvType };
}

// Deterministic filler prompt for --time; the values only need to be valid token ids.
function syntheticPrompt(n, vocab, seed) {
  let x = seed >>> 0 || 1;
  const out = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.push(x % vocab);
  }
  return out;
}

class Decoder {
  constructor(session, model, batch) {
    this.session = session;
    this.model = model;
    this.batch = batch;
    this.past = null; // layer-indexed {key, value} ort.Tensors
    this.length = 0;  // tokens already in the cache
  }

  reset() {
    const { batch } = this;
    // A static cache's buffers have their full length from the start (zeros: never attended).
    // A fully fp16 graph's caches are float16 (raw bits in a Uint16Array; zeros are +0).
    const kvType = this.model.kvType;
    const buf = (n) => (kvType === 'float16' ? new Uint16Array(n) : new Float32Array(n));
    this.past = this.model.layers.map(({ kvHeads, headDim, maxRows }) => ({
      key: new ort.Tensor(kvType, buf(batch * kvHeads * maxRows * headDim), [batch, kvHeads, maxRows, headDim]),
      value: new ort.Tensor(kvType, buf(batch * kvHeads * maxRows * headDim), [batch, kvHeads, maxRows, headDim]),
    }));
    this.length = 0;
  }

  // Runs `ids` (the same for every batch row) and returns the logits of the last position,
  // [batch][vocab], or with allPositions those of every position of row 0, [seq][vocab].
  async step(ids, allPositions = false) {
    const { batch } = this;
    const seq = ids.length;
    const total = this.length + seq;
    const inputIds = new BigInt64Array(batch * seq);
    const positions = new BigInt64Array(batch * seq);
    for (let b = 0; b < batch; b++)
      for (let t = 0; t < seq; t++) {
        inputIds[b * seq + t] = BigInt(ids[t]);
        positions[b * seq + t] = BigInt(this.length + t);
      }
    const feeds = {
      input_ids: new ort.Tensor('int64', inputIds, [batch, seq]),
    };
    if (this.model.hasLengths) {
      feeds.seqlens_k = new ort.Tensor('int32', new Int32Array(batch).fill(total - 1), [batch]);
      feeds.total_sequence_length = new ort.Tensor('int32', Int32Array.from([total]), []);
    } else {
      feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(batch * total).fill(1n), [batch, total]);
    }
    // As Optimum's ORTModelForCausalLM feeds it: the branch without past for the prefill
    // (the past is empty), the with-past branch after.
    if (this.model.hasCacheBranch)
      feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.from([this.length > 0 ? 1 : 0]), [1]);
    if (this.model.staticCache) {
      const maxRows = this.model.layers[0].maxRows;
      if (total > maxRows) throw new Error(`${total} tokens exceed the static cache of ${maxRows} rows`);
      feeds.write_indices = new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(this.length)), [batch]);
      feeds.nonpad_kv_seqlen = new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(total)), [batch]);
    }
    if (this.model.hasPositions) feeds.position_ids = new ort.Tensor('int64', positions, [batch, seq]);
    this.past.forEach((kv, i) => {
      feeds[`past_key_values.${i}.key`] = kv.key;
      feeds[`past_key_values.${i}.value`] = kv.value;
    });
    const out = await this.session.run(feeds);
    this.past = this.past.map((_, i) => ({ key: out[`present.${i}.key`], value: out[`present.${i}.value`] }));
    this.length = total;
    const logits = out.logits.type === 'float16'
      ? { dims: out.logits.dims, data: halfToFloat(out.logits.data) } // exact: every fp16 is an fp32
      : out.logits;
    const vocab = logits.dims[2];
    if (allPositions)
      return ids.map((_, t) => logits.data.subarray(t * vocab, (t + 1) * vocab));
    const rows = [];
    for (let b = 0; b < batch; b++) {
      const off = (b * seq + seq - 1) * vocab;
      rows.push(logits.data.subarray(off, off + vocab));
    }
    return rows;
  }
}

// IEEE fp16 bit patterns (Uint16Array, or a Float16Array's values) -> Float32Array.
function halfToFloat(bits) {
  if (!(bits instanceof Uint16Array)) return Float32Array.from(bits);
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i], s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

// First maximum wins, as torch.argmax does on CPU.
function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

// Compares step-by-step logits with those of one prefill over the same sequence.
async function checkPrefill(dec, prompt, tokens, kept) {
  dec.reset();
  const all = await dec.step([...prompt, ...tokens.slice(0, -1)], true);
  let maxAbs = 0;
  let maxRef = 0;
  let argmaxAgree = 0;
  kept.forEach((stepRow, s) => {
    const full = all[prompt.length - 1 + s];
    for (let j = 0; j < full.length; j++) {
      maxAbs = Math.max(maxAbs, Math.abs(full[j] - stepRow[j]));
      maxRef = Math.max(maxRef, Math.abs(full[j]));
    }
    if (argmax(full) === tokens[s]) argmaxAgree++;
  });
  return { max_abs_diff: maxAbs, max_abs_logit: maxRef, argmax_agree: argmaxAgree, positions: kept.length };
}

function isDegenerate(tokens) {
  // "Collapsed" greedy output: the tail is one token repeated.
  const tail = tokens.slice(Math.floor(tokens.length / 2));
  return new Set(tail).size <= 1 && tokens.length >= 8;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: a.opt,
    // Errors only: TensorScatter warns on every run that it copies the buffer (no I/O binding here).
    logSeverityLevel: 3,
  });
  const model = describeModel(session);
  const dec = new Decoder(session, model, a.batch);
  const result = { model: path.resolve(a.model), ort_version: ort.env.versions?.node ?? null,
    threads: a.threads, batch: a.batch, layers: model.layers.length, vocab: model.vocab };

  if (a.time) {
    if (!model.vocab) throw new Error('--time needs a static vocab size in the logits output');
    const prompt = syntheticPrompt(a.context, model.vocab, a.seed);
    dec.reset();
    const t0 = performance.now();
    let logits = await dec.step(prompt);
    const prefillMs = performance.now() - t0;
    let tok = argmax(logits[0]);
    for (let i = 0; i < a.warmup; i++) tok = argmax((await dec.step([tok]))[0]);
    const contextStart = dec.length;
    const times = [];
    const tokens = [];
    for (let i = 0; i < a.steps; i++) {
      const s = performance.now();
      logits = await dec.step([tok]);
      times.push(performance.now() - s);
      tok = argmax(logits[0]);
      tokens.push(tok);
    }
    const sorted = [...times].sort((x, y) => x - y);
    Object.assign(result, {
      mode: 'time', context: a.context, context_start: contextStart, context_end: dec.length,
      warmup: a.warmup, timed_steps: a.steps, prefill_ms: prefillMs,
      ms_per_token: times.reduce((x, y) => x + y, 0) / times.length,
      ms_per_token_median: sorted[Math.floor(sorted.length / 2)],
      ms_per_token_min: sorted[0],
      tokens,
    });
  } else {
    const bad = model.vocab ? a.prompt.filter((t) => t < 0 || t >= model.vocab) : [];
    if (bad.length) throw new Error(`--prompt: token ids ${bad} are outside the vocabulary [0, ${model.vocab})`);
    const dumpSet = new Set(a.dumpSteps ?? []);
    const dumped = [];
    if (a.dumpDir) fs.mkdirSync(a.dumpDir, { recursive: true });
    dec.reset();
    const tokens = [];
    const rowsAgree = [];
    const times = [];
    const kept = []; // step logits of row 0, for --check-prefill
    let ids = a.prompt;
    let prefillMs = 0;
    for (let s = 0; s < a.steps; s++) {
      const t = performance.now();
      const logits = await dec.step(ids);
      const dt = performance.now() - t;
      if (s === 0) prefillMs = dt; else times.push(dt);
      const tok = argmax(logits[0]);
      rowsAgree.push(logits.every((row) => argmax(row) === tok));
      tokens.push(tok);
      if (a.checkPrefill) kept.push(Float32Array.from(logits[0]));
      if (dumpSet.has(s)) {
        const file = `logits_step${s}.f32`;
        // Float32Array bytes are host order; every target we run on is little-endian.
        fs.writeFileSync(path.join(a.dumpDir, file), Buffer.from(logits[0].buffer, logits[0].byteOffset, logits[0].byteLength));
        dumped.push({ step: s, file, token: tok, position: dec.length - 1, shape: [logits[0].length] });
      }
      ids = [tok];
    }
    if (a.dumpDir) {
      const missing = [...dumpSet].filter((s) => s >= a.steps);
      if (missing.length) console.error(`ort_decode: warning: dump steps ${missing} >= --steps ${a.steps}, not written`);
      fs.writeFileSync(path.join(a.dumpDir, 'index.json'), JSON.stringify({
        model: result.model, prompt: a.prompt, tokens, vocab: model.vocab,
        dtype: 'float32', byte_order: 'little', row: 'last position of batch row 0', steps: dumped,
      }) + '\n');
    }
    if (a.checkPrefill) Object.assign(result, { prefill_check: await checkPrefill(dec, a.prompt, tokens, kept) });
    Object.assign(result, {
      mode: 'greedy', prompt: a.prompt, steps: a.steps, tokens,
      batch_rows_agree: rowsAgree.every(Boolean),
      degenerate: isDegenerate(tokens),
      distinct_tokens: new Set(tokens).size,
      prefill_ms: prefillMs,
      ms_per_token: times.length ? times.reduce((x, y) => x + y, 0) / times.length : null,
    });
  }
  const text = JSON.stringify(result);
  if (a.json) fs.writeFileSync(a.json, text + '\n');
  console.log(text);
}

main().catch((e) => {
  console.error(`ort_decode: ${e.message ?? e}`);
  process.exit(1);
});

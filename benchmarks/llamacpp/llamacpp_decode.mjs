#!/usr/bin/env node
// llama.cpp (through node-llama-cpp 3.21.1, its prebuilt CPU build) on a GGUF file, fed token ids:
// the peer of benchmarks/peers.py and benchmarks/quant.py.
//
// Usage:
//   node llamacpp_decode.mjs model.gguf --prompt 1,2,3 --steps N [--threads T] [--kv f16|f32] [--flash-attention]
//   node llamacpp_decode.mjs model.gguf --time --context C [--steps K] [--warmup W] [--threads T] [--kv f16|f32]
//                            [--flash-attention]
//
// --prompt    greedy decoding (temperature 0): prints the N new tokens (to check against bmc).
// --time      prefill C - W - K tokens (the fixed pseudo-random prompt of
//             tests/peers/ort_decode.mjs), W (default 3) untimed and K (default 32) timed greedy
//             decode steps: ms/token over the contexts [C - K, C).
// --kv        the KV cache's type (llama.cpp's default is f16; f32 is the like-for-like one).
// --flash-attention  llama.cpp's flash-attention kernels (node-llama-cpp's default is off).
// The context is created with exactly as many rows as the run needs (no larger cache), the batch as
// large as the prompt (one prefill call).
// Output: one JSON object on stdout: {tokens, ms_per_token, load_ms, ...}.
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { performance } from 'node:perf_hooks';

function usage(msg) {
  if (msg) console.error(`llamacpp_decode: ${msg}`);
  console.error('usage: node llamacpp_decode.mjs model.gguf (--prompt 1,2,3 --steps N | --time --context C) ' +
    '[--steps K] [--warmup W] [--threads T] [--kv f16|f32] [--flash-attention]');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, prompt: null, steps: null, threads: 1, time: false, context: 64, warmup: 3, kv: 'f16', fa: false };
  const num = (i, name) => {
    const v = Number(argv[i]);
    if (i >= argv.length || !Number.isInteger(v) || v < 0) usage(`${name}: expected a non-negative integer`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    switch (k) {
      case '--prompt': {
        const v = (argv[++i] ?? '').split(',').filter((x) => x !== '').map(Number);
        if (!v.length || v.some((x) => !Number.isInteger(x) || x < 0)) usage('--prompt: expected token ids');
        a.prompt = v; break;
      }
      case '--steps': a.steps = num(++i, k); break;
      case '--threads': a.threads = num(++i, k); break;
      case '--context': a.context = num(++i, k); break;
      case '--warmup': a.warmup = num(++i, k); break;
      case '--kv': a.kv = argv[++i]; if (!['f16', 'f32'].includes(a.kv)) usage('--kv: f16 or f32'); break;
      case '--time': a.time = true; break;
      case '--flash-attention': a.fa = true; break;
      case '-h': case '--help': usage();
      default:
        if (k.startsWith('-') || a.model) usage(`unexpected argument '${k}'`);
        a.model = k;
    }
  }
  if (!a.model) usage('no model given');
  if (!a.time && !a.prompt) usage('--prompt or --time is required');
  return a;
}

// The filler of tests/peers/ort_decode.mjs --time (xorshift32, seed 1): the same prompt as onnxruntime's.
function syntheticPrompt(n, vocab, seed = 1) {
  let x = seed >>> 0 || 1;
  const out = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.push(x % vocab);
  }
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: a.threads });
  const model = await llama.loadModel({ modelPath: a.model, gpuLayers: 0, useMmap: true });
  const vocab = model.tokens.nTokens ?? model.fileInfo.metadata.llama.vocab_size;
  let prompt, steps, warm;
  if (a.time) {
    steps = a.steps ?? 32;
    warm = a.warmup;
    const n = a.context - steps - warm;
    if (n < 1) usage(`--context ${a.context} leaves no prompt for ${warm} + ${steps} steps`);
    prompt = syntheticPrompt(n, vocab);
  } else {
    steps = a.steps ?? 16;
    warm = 0;
    prompt = a.prompt;
  }
  const rows = prompt.length + warm + steps + 1;
  const ctx = await model.createContext({
    contextSize: rows, batchSize: Math.max(prompt.length, 1), sequences: 1, flashAttention: a.fa,
    threads: { ideal: a.threads, min: a.threads },
    experimentalKvCacheKeyType: a.kv.toUpperCase(), experimentalKvCacheValueType: a.kv.toUpperCase(),
  });
  const seq = ctx.getSequence();
  const loadMs = performance.now() - t0;

  const tokens = [];
  const stamps = [];
  const want = warm + steps;
  const start = performance.now();
  for await (const tok of seq.evaluate(prompt, { temperature: 0 })) {
    tokens.push(tok);
    stamps.push(performance.now());
    if (tokens.length >= want) break;
  }
  // stamps[0] ends the prefill (its token), stamps[i] the i-th decode step.
  const decode = [];
  for (let i = Math.max(1, warm); i < stamps.length; i++) decode.push(stamps[i] - stamps[i - 1]);
  const out = {
    peer: 'llama.cpp', binding: 'node-llama-cpp 3.21.1', threads: a.threads, kv: a.kv, flash_attention: a.fa,
    load_ms: loadMs, prefill_ms: stamps[0] - start, prompt_len: prompt.length,
    tokens: a.time ? undefined : tokens,
  };
  if (a.time) {
    decode.sort((x, y) => x - y);
    out.mode = 'time';
    out.context = a.context;
    out.ms_per_token = decode.reduce((s, x) => s + x, 0) / decode.length;
    out.median_ms = decode[Math.floor(decode.length / 2)];
    out.steps = decode.length;
  }
  console.log(JSON.stringify(out));
  await ctx.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => { console.error(`llamacpp_decode: ${e.message ?? e}`); process.exit(1); });

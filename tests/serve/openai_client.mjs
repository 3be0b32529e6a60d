// bmc-serve driven by the `openai` npm package (a real OpenAI client), over
// loopback: model list, completions and chat (streamed and not) equal to
// bmc-run generating the same prompt alone, usage, errors as the client's
// typed exceptions, and an aborted stream that the server cancels.
//
// usage: node openai_client.mjs BMC_SERVE BMC_RUN MODEL.bmcpkg TOKENIZER.json
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The client lives in tests/peers/node_modules.
const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../peers/package.json'));
const { default: OpenAI } = await import(require.resolve('openai'));

const [serveBin, runBin, model, tok] = process.argv.slice(2);
function fail(msg) { console.error('FAIL: ' + msg); server?.kill('SIGKILL'); process.exit(1); }
function check(cond, msg) { if (!cond) fail(msg); }
function bmcRun(prompt, maxTokens) {
  return JSON.parse(execFileSync(runBin, [model, '--tokenizer', tok, '--prompt', prompt, '--max-new-tokens',
    String(maxTokens), '--json'], { encoding: 'utf8' }));
}

let server = spawn(serveBin, [model, '--tokenizer', tok, '--model-name', 'gpt2-test', '--port', '0'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/listening on (http:\/\/[0-9.]+:\d+)/);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error('bmc-serve exited with ' + code)));
  setTimeout(() => reject(new Error('bmc-serve did not start in 120 s')), 120000).unref();
}).catch((e) => fail(e.message));

const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 60000 });

const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === 'gpt2-test', 'models: ' + JSON.stringify(models.data));

const prompt = 'Once upon a time, ünïcödé 世界';
const ref = bmcRun(prompt, 10);
const c = await client.completions.create({ model: 'gpt2-test', prompt, max_tokens: 10, temperature: 0 });
check(c.choices[0].text === ref.text[0], `completion text ${JSON.stringify(c.choices[0].text)} != bmc-run ${JSON.stringify(ref.text[0])}`);
check(c.choices[0].finish_reason === 'length' && c.usage.completion_tokens === 10, 'completion: ' + JSON.stringify(c));

let text = '', last = null, usage = null;
for await (const chunk of await client.completions.create({ model: 'gpt2-test', prompt, max_tokens: 10, temperature: 0,
  stream: true, stream_options: { include_usage: true } })) {
  if (chunk.usage) usage = chunk.usage;
  if (chunk.choices.length) { text += chunk.choices[0].text; last = chunk.choices[0].finish_reason ?? last; }
}
check(text === ref.text[0], 'streamed completion differs from bmc-run');
check(last === 'length' && usage?.completion_tokens === 10 && usage?.prompt_tokens === ref.prompt_tokens,
  `stream end: ${last} ${JSON.stringify(usage)}`);

// Chat: bmc-serve's fixed format (docs/SERVE.md), not the model's chat template.
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2+2?' }];
const chatRef = bmcRun('<|system|>\nBe brief.\n<|user|>\nWhat is 2+2?\n<|assistant|>\n', 8);
const cc = await client.chat.completions.create({ model: 'gpt2-test', messages, max_tokens: 8, temperature: 0 });
check(cc.choices[0].message.role === 'assistant' && cc.choices[0].message.content === chatRef.text[0],
  'chat: ' + JSON.stringify(cc.choices[0]));
let chatText = '', role = null, chatFinish = null;
for await (const chunk of await client.chat.completions.create({ model: 'gpt2-test', messages, max_tokens: 8,
  temperature: 0, stream: true })) {
  const d = chunk.choices[0]?.delta ?? {};
  role = role ?? d.role;
  chatText += d.content ?? '';
  chatFinish = chunk.choices[0]?.finish_reason ?? chatFinish;
}
check(role === 'assistant' && chatText === chatRef.text[0] && chatFinish === 'length',
  `streamed chat: ${role} ${JSON.stringify(chatText)} ${chatFinish}`);

// Errors arrive as the client's typed exceptions with OpenAI's fields.
async function expectError(fn, status, param) {
  try { await fn(); } catch (e) {
    check(e instanceof OpenAI.APIError && e.status === status, `expected HTTP ${status}, got ${e}`);
    if (param) check(e.param === param, `expected param ${param}, got ${e.param}`);
    return;
  }
  fail(`expected HTTP ${status}, the request succeeded`);
}
await expectError(() => client.completions.create({ model: 'gpt2-test', prompt, n: 2 }), 400, 'n');
await expectError(() => client.completions.create({ model: 'gpt-4o', prompt }), 404, 'model');
await expectError(() => client.chat.completions.create({ model: 'gpt2-test', messages: [], max_tokens: 4 }), 400, 'messages');

// An aborted stream: the server cancels the generation and frees its KV buffers.
const ac = new AbortController();
let seen = 0;
try {
  const s = await client.completions.create({ model: 'gpt2-test', prompt: [1, 2, 3], max_tokens: 900, temperature: 0,
    stream: true }, { signal: ac.signal });
  for await (const chunk of s) { if (++seen === 3) { ac.abort(); break; } }
} catch (e) {
  check(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', 'abort: ' + e);
}
check(seen === 3, `aborted after ${seen} chunks`);
const metric = async (name) => {
  const t = await (await fetch(url + '/metrics')).text();
  const m = t.match(new RegExp('^' + name + ' (\\S+)$', 'm'));
  return m ? Number(m[1]) : NaN;
};
const deadline = Date.now() + 30000;
while ((await metric('bmc_active_requests')) !== 0) {
  check(Date.now() < deadline, 'the aborted stream is still generating after 30 s');
  await new Promise((r) => setTimeout(r, 100));
}
check((await metric('bmc_requests_cancelled_total')) === 1, 'the aborted stream was not counted as cancelled');
check((await metric('bmc_kv_bytes_allocated')) === 0, 'KV bytes held after the abort');

server.removeAllListeners('exit');
server.kill('SIGTERM');
const code = await new Promise((r) => server.on('exit', r));
check(code === 0, 'bmc-serve exited with ' + code + ' after SIGTERM');
console.log('serve.openai_client: ok');

"""bmc-serve over loopback with curl: completions and chat, streamed and not,
against bmc-run generating the same prompt alone; stop strings and stop ids,
seeded sampling, errors as OpenAI-style JSON, the queue limit (503), a client
that disconnects mid-stream (generation cancelled, KV freed), /metrics, and
the command line's errors.

usage: curl_test.py BMC_SERVE BMC_RUN MODEL.bmcpkg TOKENIZER.json"""
import http.client
import json
import subprocess
import sys
import threading
import time

from servelib import Server, bmc_run_tokens, check, curl, fail, metrics, parse_sse, wait_idle

serve_bin, run_bin, model, tok = sys.argv[1:5]

# The references: bmc-run, one prompt alone, greedy.
PROMPT = "The quick brown fox, naïve café 你好"
ref = json.loads(subprocess.run([run_bin, model, "--tokenizer", tok, "--prompt", PROMPT, "--max-new-tokens", "12",
                                 "--json"], capture_output=True, text=True, check=True).stdout)
ref_tokens, ref_text = ref["tokens"][0], ref["text"][0]
check(len(ref_tokens) == 12, f"bmc-run made {len(ref_tokens)} tokens")
CHAT = "<|system|>\nYou are terse.\n<|user|>\nSay hi\n<|assistant|>\n"  # docs/SERVE.md's fixed format
chat_ref = json.loads(subprocess.run([run_bin, model, "--tokenizer", tok, "--prompt", CHAT, "--max-new-tokens", "10",
                                      "--json"], capture_output=True, text=True, check=True).stdout)

srv = Server(serve_bin, [model, "--tokenizer", tok, "--model-name", "gpt2-test", "--workers", "2"])
u = srv.url

code, body = curl(u + "/health")
check(code == 200 and json.loads(body) == {"status": "ok"}, f"/health: {code} {body}")
code, body = curl(u + "/v1/models")
models = json.loads(body)
check(code == 200 and models["object"] == "list" and models["data"][0]["id"] == "gpt2-test", f"/v1/models: {body}")

# Non-streaming completion: the same tokens and text as bmc-run.
req = {"model": "gpt2-test", "prompt": PROMPT, "max_tokens": 12, "temperature": 0}
code, body = curl(u + "/v1/completions", req)
check(code == 200, f"completion: {code} {body}")
r = json.loads(body)
check(r["object"] == "text_completion" and r["id"].startswith("cmpl-"), f"completion shape: {body}")
ch = r["choices"][0]
check(ch["token_ids"] == ref_tokens, f"completion tokens {ch['token_ids']} != bmc-run {ref_tokens}")
check(ch["text"] == ref_text, f"completion text {ch['text']!r} != bmc-run {ref_text!r}")
check(ch["finish_reason"] == "length", f"finish_reason {ch['finish_reason']}")
check(r["usage"]["completion_tokens"] == 12 and r["usage"]["prompt_tokens"] == ref["prompt_tokens"], f"usage: {r['usage']}")

# Streaming: chunks framed as server-sent events, ending in [DONE]; the same text.
code, body = curl(u + "/v1/completions", dict(req, stream=True, stream_options={"include_usage": True}))
check(code == 200, f"stream: {code} {body}")
events = parse_sse(body)
check(events[-1] == "[DONE]", "the stream does not end with data: [DONE]")
chunks = [json.loads(e) for e in events[:-1]]
usage = chunks.pop()
check(usage["choices"] == [] and usage["usage"]["completion_tokens"] == 12, f"usage chunk: {usage}")
check(chunks[-1]["choices"][0]["finish_reason"] == "length", f"last chunk: {chunks[-1]}")
check(all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1]), "finish_reason before the end")
check(len({c["id"] for c in chunks}) == 1, "chunks of one stream carry different ids")
check("".join(c["choices"][0]["text"] for c in chunks) == ref_text, "streamed text differs from bmc-run's")
check(sum((c["choices"][0]["token_ids"] for c in chunks), []) == ref_tokens, "streamed tokens differ from bmc-run's")

# Chat, streamed and not: the fixed format's prompt, the same tokens as bmc-run on it.
chat = {"model": "gpt2-test", "max_tokens": 10, "temperature": 0,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi"}]}
code, body = curl(u + "/v1/chat/completions", chat)
check(code == 200, f"chat: {code} {body}")
r = json.loads(body)
check(r["object"] == "chat.completion" and r["choices"][0]["message"]["role"] == "assistant", f"chat shape: {body}")
check(r["choices"][0]["message"]["content"] == chat_ref["text"][0], "chat text differs from bmc-run on the fixed format")
check(r["usage"]["prompt_tokens"] == chat_ref["prompt_tokens"], f"chat prompt tokens: {r['usage']}")
code, body = curl(u + "/v1/chat/completions", dict(chat, stream=True))
events = parse_sse(body)
check(events[-1] == "[DONE]", "chat stream without [DONE]")
chunks = [json.loads(e) for e in events[:-1]]
check(chunks[0]["object"] == "chat.completion.chunk" and chunks[0]["choices"][0]["delta"].get("role") == "assistant",
      f"first chat chunk: {chunks[0]}")
check("".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == chat_ref["text"][0], "streamed chat text")
check(chunks[-1]["choices"][0]["finish_reason"] == "length", "chat finish_reason")

# Stop string: the text ends before it, finish_reason stop (streamed the same).
stop = ref_text[len(ref_text) // 2:len(ref_text) // 2 + 3]
want = ref_text[:ref_text.find(stop)]
code, body = curl(u + "/v1/completions", dict(req, stop=[stop]))
r = json.loads(body)["choices"][0]
check(r["text"] == want and r["finish_reason"] == "stop", f"stop {stop!r}: {r['text']!r} (want {want!r})")
code, body = curl(u + "/v1/completions", dict(req, stop=stop, stream=True))
chunks = [json.loads(e) for e in parse_sse(body)[:-1]]
check("".join(c["choices"][0]["text"] for c in chunks) == want, "streamed text with a stop string")
check(chunks[-1]["choices"][0]["finish_reason"] == "stop", "streamed finish_reason with a stop string")
# Stop token ids: generation ends at the first of them.
stop_id = ref_tokens[4]
code, body = curl(u + "/v1/completions", dict(req, stop_token_ids=[stop_id]))
r = json.loads(body)["choices"][0]
end = ref_tokens.index(stop_id) + 1
check(r["token_ids"] == ref_tokens[:end] and r["finish_reason"] == "stop", f"stop_token_ids: {r}")

# Token ids in, token ids out; seeded sampling reproduces bmc-run's.
ids = [11, 500, 7, 30000, 42]
sampled = bmc_run_tokens(run_bin, model, ids, 8, ["--temperature", "0.8", "--top-p", "0.9", "--seed", "3"])["tokens"][0]
for _ in range(2):
    code, body = curl(u + "/v1/completions", {"prompt": ids, "max_tokens": 8, "temperature": 0.8, "top_p": 0.9, "seed": 3})
    check(json.loads(body)["choices"][0]["token_ids"] == sampled, f"seeded sampling differs from bmc-run: {body}")

# Errors: OpenAI-style JSON bodies with the status clients act on.
def error(path, payload, status, param=None, code_=None, needle=""):
    code, body = curl(u + path, payload)
    check(code == status, f"{payload!r}: status {code}, expected {status}: {body}")
    e = json.loads(body)["error"]
    check(needle in e["message"] and "\n" not in e["message"], f"{payload!r}: message {e['message']!r}")
    if param:
        check(e["param"] == param, f"{payload!r}: param {e['param']}")
    if code_:
        check(e["code"] == code_, f"{payload!r}: code {e['code']}")

error("/v1/completions", dict(req, n=2), 400, "n", None, "one choice per request")
error("/v1/completions", "{not json", 400, None, None, "not valid JSON")
error("/v1/completions", dict(req, model="gpt-4"), 404, "model", "model_not_found", "does not exist")
error("/v1/completions", {"prompt": [1, 50257]}, 400, "prompt[1]", None, "found 50257")
error("/v1/completions", dict(req, max_tokens=10 ** 6), 400, "max_tokens")
error("/v1/completions", dict(req, logit_bias={"5": 10}), 400, "logit_bias", None, "not supported")
error("/v1/chat/completions", {"messages": [{"role": "tool", "content": "x"}]}, 400, "messages[0].role")
code, body = curl(u + "/v1/nothing")
check(code == 404 and "no route" in json.loads(body)["error"]["message"], f"unknown path: {code} {body}")

m = wait_idle(u)
for name in ["bmc_generated_tokens_total", "bmc_prompt_tokens_total", "bmc_generated_tokens_per_second",
             "bmc_queue_depth", "bmc_kv_bytes_allocated", "bmc_kv_bytes_used", "bmc_kv_reallocations_total",
             'bmc_requests_total{path="/v1/completions",code="200"}', 'bmc_requests_total{path="/v1/completions",code="400"}',
             'bmc_requests_total{path="/v1/nothing",code="404"}']:
    check(name in m, f"/metrics lacks {name}")
check(m['bmc_requests_total{path="/v1/chat/completions",code="200"}'] == 2, "chat requests counted")
check(m["bmc_generated_tokens_total"] >= 12 * 2 + 20, f"generated tokens: {m['bmc_generated_tokens_total']}")
check(m["bmc_kv_bytes_allocated"] == 0 and m["bmc_kv_bytes_used"] == 0, "KV bytes held while idle")
srv.stop()

# One worker, a queue of one: a third request gets 503; a client that goes away
# mid-stream cancels its generation and its KV buffers are freed.
srv = Server(serve_bin, [model, "--tokenizer", tok, "--workers", "1", "--max-queue", "1"])
u = srv.url
host, port = "127.0.0.1", srv.port
long_req = json.dumps({"prompt": [1, 2, 3], "max_tokens": 900, "temperature": 0, "stream": True})
a = http.client.HTTPConnection(host, port, timeout=60)
a.request("POST", "/v1/completions", long_req, {"Content-Type": "application/json"})
ra = a.getresponse()
check(ra.status == 200, f"long stream: {ra.status}")
check(ra.readline().startswith(b"data: "), "long stream: no first event")  # it runs now
result_b = {}
def queued():
    result_b["r"] = curl(u + "/v1/completions", {"prompt": [4, 5], "max_tokens": 3, "temperature": 0})
tb = threading.Thread(target=queued)
tb.start()
deadline = time.time() + 30
while metrics(u)["bmc_queue_depth"] != 1:
    check(time.time() < deadline, "the second request never queued")
    time.sleep(0.05)
error("/v1/completions", {"prompt": [6], "max_tokens": 2}, 503, None, "queue_full", "--max-queue")
check(metrics(u)["bmc_kv_bytes_allocated"] > 0, "the running stream holds no KV bytes?")
a.sock.shutdown(2)  # the client goes away mid-stream
a.close()
tb.join(timeout=60)
check(not tb.is_alive() and result_b["r"][0] == 200, f"the queued request did not finish: {result_b}")
m = wait_idle(u)
check(m["bmc_requests_cancelled_total"] == 1, f"cancelled: {m['bmc_requests_cancelled_total']}")
check(m["bmc_generated_tokens_total"] < 900, f"the cancelled stream ran to its end: {m['bmc_generated_tokens_total']} tokens")
check(m["bmc_kv_bytes_allocated"] == 0, f"KV bytes after the cancellation: {m['bmc_kv_bytes_allocated']}")
check(m['bmc_requests_total{path="/v1/completions",code="503"}'] == 1, "503 counted")
srv.stop()

# A generation that fails midway (the KV memory limit): 500 with the runtime's
# message, or, once streaming, an error event and no [DONE].
srv = Server(serve_bin, [model, "--max-kv-bytes", "100000"])
code, body = curl(srv.url + "/v1/completions", {"prompt": [1, 2, 3], "max_tokens": 300, "temperature": 0})
check(code == 500 and "process limit" in json.loads(body)["error"]["message"], f"KV limit: {code} {body}")
code, body = curl(srv.url + "/v1/completions", {"prompt": [1, 2, 3], "max_tokens": 300, "temperature": 0, "stream": True})
events = parse_sse(body)
check(code == 200 and "process limit" in json.loads(events[-1])["error"]["message"] and "[DONE]" not in events,
      f"KV limit while streaming: {events[-2:]}")
code, body = curl(srv.url + "/v1/completions", "{\"prompt\": \"" + "a" * (17 << 20) + "\"}")
check(code == 413 and "larger than 16 MiB" in json.loads(body)["error"]["message"], f"a 17 MiB body: {code}")
check(wait_idle(srv.url)["bmc_kv_bytes_allocated"] == 0, "KV bytes held after the failures")
srv.stop()

# Command-line errors: one line, non-zero exit, before serving.
for args, needle in [([], "missing MODEL"), ([model, "--port", "70000"], "--port: expected an integer in [0, 65535]"),
                     ([model, "--kv", "x"], "--kv: expected bmc, prealloc or concat"),
                     ([model, "--tokenizer", "/nonexistent.json"], "/nonexistent.json"),
                     (["/nonexistent.bmcpkg"], "/nonexistent.bmcpkg"),
                     ([model, "--workers", "0"], "--workers: expected an integer in [1, 256]")]:
    r = subprocess.run([serve_bin] + args, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    check(r.returncode != 0 and len(lines) == 1 and needle in lines[0], f"bmc-serve {args}: rc {r.returncode}, {r.stderr!r}")
print("serve.curl: ok")

"""bmc-serve on a model that carries its own tokenizer and generation defaults:
a package compiled with an embedded tokenizer.json (served with no --tokenizer),
and a Hugging Face-style model folder whose generation_config.json names an eos
id, which then ends generations (finish_reason "stop") unless --stop-ids says
otherwise. References: bmc-run on the same package / folder, one prompt alone.
A tokenizer or eos id outside the model's vocabulary is refused at start-up.

usage: assets_test.py BMC_SERVE BMC_COMPILE BMC_RUN MODEL.onnx TOKENIZER.json WORK_DIR"""
import json
import os
import shutil
import subprocess
import sys

from servelib import Server, check, curl

serve_bin, compile_bin, run_bin, onnx, tok, work = sys.argv[1:7]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
PROMPT = "Once upon a time, café 你好"


def bmc_run(model, *extra):
    r = subprocess.run([run_bin, model, "--prompt", PROMPT, "--max-new-tokens", "10", "--json", *extra],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"bmc-run {model}: {r.stderr}")
    return json.loads(r.stdout)


def complete(url, max_tokens=10):
    code, body = curl(url + "/v1/completions", {"prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0})
    check(code == 200, f"completion: {code} {body}")
    return json.loads(body)["choices"][0]


# 1. A package with the tokenizer embedded: text in, text out with no --tokenizer.
pkg = os.path.join(work, "embedded.bmcpkg")
r = subprocess.run([compile_bin, onnx, "-o", pkg, "--tokenizer", tok, "--quiet"], capture_output=True, text=True)
check(r.returncode == 0, f"bmc-compile --tokenizer: {r.stderr}")
ref = bmc_run(pkg)
srv = Server(serve_bin, [pkg, "--workers", "1"])
ch = complete(srv.url)
check(ch["token_ids"] == ref["tokens"][0] and ch["text"] == ref["text"][0],
      f"embedded tokenizer: served {ch['token_ids']} {ch['text']!r}, bmc-run {ref['tokens'][0]} {ref['text'][0]!r}")
code, body = curl(srv.url + "/v1/models")
check(json.loads(body)["data"][0]["id"] == "embedded", f"model name of a package: {body}")
srv.stop()

# 2. A model folder: its tokenizer, and its eos id (the last token id returned) from generation_config.json ends the generation.
folder = os.path.join(work, "folder")
os.makedirs(folder)
os.symlink(os.path.abspath(onnx), os.path.join(folder, "model.onnx"))
shutil.copy(tok, os.path.join(folder, "tokenizer.json"))
free = bmc_run(folder, "--ignore-eos")["tokens"][0]
eos = free[3]
with open(os.path.join(folder, "generation_config.json"), "w") as f:
    json.dump({"eos_token_id": eos}, f)
srv = Server(serve_bin, [folder, "--workers", "1"])
ch = complete(srv.url)
check(ch["finish_reason"] == "stop" and ch["token_ids"] == free[:free.index(eos) + 1],
      f"folder eos {eos}: served {ch['token_ids']} ({ch['finish_reason']}), free run {free}")
code, body = curl(srv.url + "/v1/models")
check(json.loads(body)["data"][0]["id"] == "folder", f"model name of a folder: {body}")
srv.stop()
# --stop-ids replaces the folder's eos ids.
srv = Server(serve_bin, [folder, "--workers", "1", "--stop-ids", str(free[8])])
ch = complete(srv.url)
want = free[:free.index(free[8]) + 1]  # the stop id is the last token id (its text is not shown)
check(ch["token_ids"] == want and ch["finish_reason"] == "stop", f"--stop-ids over the folder's eos: {ch}, want {want}")
srv.stop()
# 3. A tokenizer or eos id the model's vocabulary (50257) cannot hold: refused at start-up,
# one line naming both sizes and the files. (50257 ids exactly, as in 1. and 2., is fine.)
def refused(args, needle):
    r = subprocess.run([serve_bin] + args + ["--port", "0"], capture_output=True, text=True, timeout=300)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    check(r.returncode == 1 and needle in last and "listening" not in r.stdout,
          f"bmc-serve {args}: rc {r.returncode}, expected {needle!r} in the last line of {r.stderr!r}")

with open(tok) as f:
    big = json.load(f)
big["added_tokens"].append({"id": 50257, "content": "<|extra|>", "single_word": False, "lstrip": False,
                            "rstrip": False, "normalized": False, "special": True})
big_tok = os.path.join(work, "tokenizer-50258.json")
with open(big_tok, "w") as f:
    json.dump(big, f)
refused([pkg, "--tokenizer", big_tok], f"tokenizer '{big_tok}' has 50258 tokens, more than the vocabulary of '{pkg}' "
        "(logits width 50257)")
with open(os.path.join(folder, "generation_config.json"), "w") as f:
    json.dump({"eos_token_id": [eos, 50257]}, f)
refused([folder], f"eos_token_id 50257 of {folder}/generation_config.json or config.json is outside the vocabulary "
        f"of '{folder}' (logits width 50257; tokenizer '{folder}/tokenizer.json' has 50257 tokens)")
print("serve.assets: ok")

#!/usr/bin/python3
"""HuggingFace-style eager PyTorch decoding with the weights of a bmc_modelgen ONNX file.

The peer the paper-style baselines are: a plain PyTorch port of HF's eager GPT-2 and Llama code
(GPT2LMHeadModel: Conv1D = addmm, LayerNorm, gelu_new, learned positions; LlamaForCausalLM:
nn.Linear projections, RMSNorm in float32, RoPE computed per forward, repeat_kv for GQA, SwiGLU),
attention as eager_attention_forward (matmul, + float mask, softmax, matmul), with two caches:

  dynamic  DynamicCache: per layer torch.cat([past, new], dim=-2) every token (a new buffer and a
           full copy of the cache per step), the mask covers the valid rows.
  static   StaticCache: one preallocated [batch, kv_heads, max_cache_len, head_dim] buffer per
           layer, the new row written in place with index_copy_ at cache_position, attention over
           the whole buffer with a mask that hides the rows beyond the current position.

The weights come from the ONNX initializers (both exporter styles of bmc_modelgen: torchscript's
"onnx::MatMul_N" transposed Linear weights are named by the MatMul node's module scope, Identity
aliases are followed; dynamo keeps HF names). The configuration comes from the file's
"bmc.modelgen" metadata.

  torch_peer.py MODEL.onnx --check [--threads T]
      greedy-decodes a short prompt with onnxruntime (tests/peers/ort_decode.mjs --dump-logits),
      then runs the same tokens through both caches here and compares the logits of every step;
      exits 1 (and says by how much) if they differ.
  torch_peer.py MODEL.onnx --time --context C --window K --cache dynamic|static [--threads T]
      prefills C-K-W tokens, runs W (--warmup, default 3, as ort_decode.mjs) untimed and K timed
      greedy decode steps, so the timed steps see the contexts [C-K, C) as bmc_bench's do; prints
      one JSON line.
      --device cuda: the weights (fp16) and the caches on the GPU (torch.cuda must be available; a
      one-line error otherwise); the JSON line adds torch.cuda's peak memory.
      --compile (with --cache static): the decode step through torch.compile (mode "reduce-overhead",
      CUDA graphs on a GPU), compiled and warmed before the timed steps; where this torch has no
      torch.compile, one line saying so and exit status 3: that row is not reported.
  torch_peer.py MODEL.onnx --spec --context C --window K --spec-k N --spec-p P [--threads T]
      HF-style assisted generation with a DynamicCache (cat per pass, crop on rejection: a slice,
      as DynamicCache.crop): prefills the prompt of bmc_bench_spec (C-K tokens), decodes K tokens
      greedily without drafts (untimed: the continuation to replay), then again with the replay
      drafter of bmc::ReplayDrafter (the same corruption stream, so the same passes), checks the
      tokens and prints one JSON line timed like bmc_bench_spec.

Needs Debian's python3-torch (1.13), python3-onnx, python3-numpy: run with /usr/bin/python3.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # fail loudly, with the fix
    sys.exit("torch_peer: PyTorch is missing: apt-get install -y python3-torch (Debian's 1.13), "
             "and run this with /usr/bin/python3")

# Where the weights and caches live and their type: the CPU in float32 (the default), or with
# --device cuda the GPU in float16 (main() sets both before the model is built).
DEVICE = torch.device("cpu")
DTYPE = torch.float32

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_DECODE = os.path.join(ROOT, "tests", "peers", "ort_decode.mjs")
SUPPORTED = ("gpt2", "llama")


class PeerError(Exception):
    pass


def blas_library():
    """The BLAS this process loaded (torch 1.13 from Debian calls the system libblas.so.3 for
    Linear layers: the reference BLAS unless OpenBLAS is put first, see benchmarks/run_all.sh)."""
    libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if re.search(r"lib(open)?blas", l)})
    return ",".join(os.path.realpath(x) for x in libs) or "none"


# ---- weights ---------------------------------------------------------------------------------------
def load_onnx(path):
    """Returns (config dict, state dict of HF names -> float32 numpy arrays in torch's layout)."""
    m = onnx.load(path)
    props = {p.key: p.value for p in m.metadata_props}
    if "bmc.modelgen" not in props:
        raise PeerError(f"{path}: no 'bmc.modelgen' metadata (not written by tests/models/bmc_modelgen.py); "
                        "the torch peer needs its configuration")
    cfg = json.loads(props["bmc.modelgen"])
    if cfg["family"] not in SUPPORTED:
        raise PeerError(f"{path}: family '{cfg['family']}' is not implemented by the torch peer "
                        f"(supported: {', '.join(SUPPORTED)})")
    if cfg.get("sliding_window"):
        raise PeerError(f"{path}: sliding-window attention is not implemented by the torch peer")
    arrays = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:  # the torchscript exporter aliases identical parameters
        if n.op_type == "Identity" and n.input[0] in arrays:
            arrays[n.output[0]] = arrays[n.input[0]]
    consumers = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    sd = {}
    for name, arr in arrays.items():
        if arr.dtype != np.float32:
            continue
        if name.startswith("onnx::MatMul_"):
            # nn.Linear's weight, stored transposed [in, out]; the MatMul's name is its module scope.
            users = [n for n in consumers.get(name, []) if n.op_type == "MatMul"]
            if len(users) != 1:
                raise PeerError(f"{path}: initializer {name} has {len(users)} MatMul users, expected 1")
            scope = re.sub(r"/MatMul(_\d+)?$", "", users[0].name)
            if not scope.startswith("/m/"):
                raise PeerError(f"{path}: cannot name Linear weight {name} from node '{users[0].name}'")
            sd[scope[3:].replace("/", ".") + ".weight"] = np.ascontiguousarray(arr.T)
        elif name.startswith("m."):  # torchscript style: "m." + HF name
            sd[name[2:]] = arr
        elif re.match(r"^(model|transformer|lm_head)\.", name):  # dynamo style: HF names, HF layout
            sd[name] = arr
    return cfg, sd


def _need(sd, name, shape):
    if name not in sd:
        raise PeerError(f"weight '{name}' not found in the ONNX file (found {len(sd)} weights, "
                        f"e.g. {sorted(sd)[:4]})")
    a = sd[name]
    if tuple(a.shape) != tuple(shape):
        raise PeerError(f"weight '{name}': expected shape {tuple(shape)}, found {tuple(a.shape)}")
    return torch.from_numpy(np.array(a, dtype=np.float32, copy=True)).to(device=DEVICE, dtype=DTYPE)


# ---- caches ----------------------------------------------------------------------------------------
class DynamicCache:
    """transformers' DynamicCache: torch.cat per layer per token."""

    def __init__(self, layers):
        self.k = [None] * layers
        self.v = [None] * layers

    def length(self):
        return 0 if self.k[0] is None else self.k[0].shape[-2]

    def target_len(self, seq):
        return self.length() + seq

    def room(self, seq):
        pass

    def advance(self, seq):  # the length is the tensors'
        pass

    def update(self, k, v, layer, cache_position):
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v
        else:
            self.k[layer] = torch.cat([self.k[layer], k], dim=-2)
            self.v[layer] = torch.cat([self.v[layer], v], dim=-2)
        return self.k[layer], self.v[layer]

    def bytes_allocated(self):
        return sum(t.numel() * t.element_size() for t in self.k + self.v if t is not None)


class StaticCache:
    """transformers' StaticCache: preallocated, index_copy_ in place, attended whole with a mask."""

    def __init__(self, layers, batch, kv_heads, max_len, head_dim):
        self.max_len = max_len
        self.k = [torch.zeros(batch, kv_heads, max_len, head_dim, device=DEVICE, dtype=DTYPE) for _ in range(layers)]
        self.v = [torch.zeros(batch, kv_heads, max_len, head_dim, device=DEVICE, dtype=DTYPE) for _ in range(layers)]
        self.seen = 0

    def length(self):
        return self.seen

    def room(self, seq):
        if self.seen + seq > self.max_len:
            raise PeerError(f"static cache of {self.max_len} rows is full (need {self.seen + seq})")

    def target_len(self, seq):  # the whole buffer (no read of self.seen: compiled once, not per length)
        return self.max_len

    def advance(self, seq):  # after a forward of seq tokens (kept outside it: no device sync there)
        self.seen += seq

    def update(self, k, v, layer, cache_position):
        self.k[layer].index_copy_(2, cache_position, k)
        self.v[layer].index_copy_(2, cache_position, v)
        return self.k[layer], self.v[layer]

    def bytes_allocated(self):
        return sum(t.numel() * t.element_size() for t in self.k + self.v)


def causal_mask(cache_position, target_len, dtype=torch.float32):
    """HF's 4-D float mask [1, 1, seq, target_len]: 0 where kv_idx <= position, finfo.min elsewhere."""
    kv_idx = torch.arange(target_len, device=cache_position.device)
    allowed = kv_idx[None, :] <= cache_position[:, None]
    mask = torch.full((cache_position.shape[0], target_len), torch.finfo(dtype).min, dtype=dtype,
                      device=cache_position.device)
    mask = mask.masked_fill(allowed, 0.0)
    return mask[None, None]


def eager_attention(q, k, v, mask, scaling):
    """eager_attention_forward: matmul, scale, + mask, softmax in float32, matmul."""
    w = torch.matmul(q, k.transpose(2, 3)) * scaling
    w = w + mask[:, :, :, : k.shape[-2]]
    w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(w, v)


# ---- GPT-2 -----------------------------------------------------------------------------------------
class GPT2:
    def __init__(self, cfg, sd):
        E, I, L, V = cfg["hidden"], cfg["inter"], cfg["layers"], cfg["vocab"]
        self.cfg, self.H, self.D, self.eps = cfg, cfg["heads"], cfg["head_dim"], cfg["norm_eps"]
        self.wte = _need(sd, "transformer.wte.weight", (V, E))
        self.wpe = _need(sd, "transformer.wpe.weight", (cfg["max_pos"], E))
        # torchscript stores the tied head as its own (transposed) copy; dynamo reuses wte.
        self.head = _need(sd, "lm_head.weight", (V, E)) if "lm_head.weight" in sd else self.wte
        self.layers = []
        for i in range(L):
            p = f"transformer.h.{i}"
            self.layers.append(dict(
                ln1_w=_need(sd, f"{p}.ln_1.weight", (E,)), ln1_b=_need(sd, f"{p}.ln_1.bias", (E,)),
                attn_w=_need(sd, f"{p}.attn.c_attn.weight", (E, 3 * E)), attn_b=_need(sd, f"{p}.attn.c_attn.bias", (3 * E,)),
                proj_w=_need(sd, f"{p}.attn.c_proj.weight", (E, E)), proj_b=_need(sd, f"{p}.attn.c_proj.bias", (E,)),
                ln2_w=_need(sd, f"{p}.ln_2.weight", (E,)), ln2_b=_need(sd, f"{p}.ln_2.bias", (E,)),
                fc_w=_need(sd, f"{p}.mlp.c_fc.weight", (E, I)), fc_b=_need(sd, f"{p}.mlp.c_fc.bias", (I,)),
                mp_w=_need(sd, f"{p}.mlp.c_proj.weight", (I, E)), mp_b=_need(sd, f"{p}.mlp.c_proj.bias", (E,))))
        self.lnf_w = _need(sd, "transformer.ln_f.weight", (E,))
        self.lnf_b = _need(sd, "transformer.ln_f.bias", (E,))
        self.kv_heads = self.H

    @staticmethod
    def conv1d(x, w, b):  # HF Conv1D
        size_out = x.size()[:-1] + (w.shape[1],)
        return torch.addmm(b, x.view(-1, x.size(-1)), w).view(size_out)

    @staticmethod
    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    def forward(self, ids, cache):
        return forward_and_advance(self, ids, cache)

    def step(self, ids, cache, cache_position):  # no Python ints from the cache: torch.compile-able
        B, S = ids.shape
        h = F.embedding(ids, self.wte) + F.embedding(cache_position[None].expand(B, S), self.wpe)
        mask = causal_mask(cache_position, cache.target_len(S), DTYPE)
        E, H, D = h.shape[-1], self.H, self.D
        for i, l in enumerate(self.layers):
            x = F.layer_norm(h, (E,), l["ln1_w"], l["ln1_b"], self.eps)
            q, k, v = self.conv1d(x, l["attn_w"], l["attn_b"]).split(E, dim=2)
            q, k, v = (t.view(B, S, H, D).transpose(1, 2) for t in (q, k, v))
            k, v = cache.update(k, v, i, cache_position)
            a = eager_attention(q, k, v, mask, D ** -0.5)
            a = a.transpose(1, 2).reshape(B, S, E).contiguous()
            h = h + self.conv1d(a, l["proj_w"], l["proj_b"])
            x = F.layer_norm(h, (E,), l["ln2_w"], l["ln2_b"], self.eps)
            h = h + self.conv1d(self.gelu_new(self.conv1d(x, l["fc_w"], l["fc_b"])), l["mp_w"], l["mp_b"])
        h = F.layer_norm(h, (E,), self.lnf_w, self.lnf_b, self.eps)
        return F.linear(h, self.head)


# ---- Llama -----------------------------------------------------------------------------------------
class Llama:
    def __init__(self, cfg, sd):
        E, I, L, V = cfg["hidden"], cfg["inter"], cfg["layers"], cfg["vocab"]
        self.cfg, self.H, self.KV, self.D, self.eps = cfg, cfg["heads"], cfg["kv_heads"], cfg["head_dim"], cfg["norm_eps"]
        H, KV, D = self.H, self.KV, self.D
        self.embed = _need(sd, "model.embed_tokens.weight", (V, E))
        self.layers = []
        for i in range(L):
            p = f"model.layers.{i}"
            self.layers.append(dict(
                in_norm=_need(sd, f"{p}.input_layernorm.weight", (E,)),
                q=_need(sd, f"{p}.self_attn.q_proj.weight", (H * D, E)),
                k=_need(sd, f"{p}.self_attn.k_proj.weight", (KV * D, E)),
                v=_need(sd, f"{p}.self_attn.v_proj.weight", (KV * D, E)),
                o=_need(sd, f"{p}.self_attn.o_proj.weight", (E, H * D)),
                post_norm=_need(sd, f"{p}.post_attention_layernorm.weight", (E,)),
                gate=_need(sd, f"{p}.mlp.gate_proj.weight", (I, E)),
                up=_need(sd, f"{p}.mlp.up_proj.weight", (I, E)),
                down=_need(sd, f"{p}.mlp.down_proj.weight", (E, I))))
        self.norm = _need(sd, "model.norm.weight", (E,))
        self.head = _need(sd, "lm_head.weight", (V, E))
        theta = cfg.get("rope_theta", 10000.0)
        self.inv_freq = (1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))).to(DEVICE)
        self.kv_heads = KV

    def rms_norm(self, x, w):
        dtype = x.dtype
        x = x.to(torch.float32)
        var = x.pow(2).mean(-1, keepdim=True)
        return w * (x * torch.rsqrt(var + self.eps)).to(dtype)

    def rotary(self, position_ids):  # LlamaRotaryEmbedding.forward
        inv = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        freqs = (inv @ position_ids[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(DTYPE), emb.sin().to(DTYPE)  # as HF: in the activations' type

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    @staticmethod
    def repeat_kv(x, n_rep):  # HF repeat_kv: expand + reshape (a copy of the whole cache)
        b, kv, s, d = x.shape
        if n_rep == 1:
            return x
        return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)

    def forward(self, ids, cache):
        return forward_and_advance(self, ids, cache)

    def step(self, ids, cache, cache_position):  # no Python ints from the cache: torch.compile-able
        B, S = ids.shape
        h = F.embedding(ids, self.embed)
        mask = causal_mask(cache_position, cache.target_len(S), DTYPE)
        cos, sin = self.rotary(cache_position[None].expand(B, S))
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        H, KV, D = self.H, self.KV, self.D
        for i, l in enumerate(self.layers):
            x = self.rms_norm(h, l["in_norm"])
            q = F.linear(x, l["q"]).view(B, S, H, D).transpose(1, 2)
            k = F.linear(x, l["k"]).view(B, S, KV, D).transpose(1, 2)
            v = F.linear(x, l["v"]).view(B, S, KV, D).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            k, v = cache.update(k, v, i, cache_position)
            k, v = self.repeat_kv(k, H // KV), self.repeat_kv(v, H // KV)
            a = eager_attention(q, k, v, mask, D ** -0.5)
            a = a.transpose(1, 2).reshape(B, S, H * D).contiguous()
            h = h + F.linear(a, l["o"])
            x = self.rms_norm(h, l["post_norm"])
            h = h + F.linear(F.silu(F.linear(x, l["gate"])) * F.linear(x, l["up"]), l["down"])
        h = self.rms_norm(h, self.norm)
        return F.linear(h, self.head)


def forward_and_advance(model, ids, cache, step=None):
    """One forward pass over ids [B, S] after the cache's rows (through `step`, model.step or its
    compiled form), then the cache's length advanced by S."""
    ids = ids.to(DEVICE)
    past, S = cache.length(), ids.shape[1]
    cache.room(S)
    cache_position = torch.arange(past, past + S, device=DEVICE)
    out = (step or model.step)(ids, cache, cache_position)
    cache.advance(S)
    return out


def build(path):
    cfg, sd = load_onnx(path)
    return (GPT2 if cfg["family"] == "gpt2" else Llama)(cfg, sd)


def make_cache(model, kind, batch, static_len):
    c = model.cfg
    if kind == "dynamic":
        return DynamicCache(c["layers"])
    if kind == "static":
        return StaticCache(c["layers"], batch, model.kv_heads, static_len, c["head_dim"])
    raise PeerError(f"unknown cache '{kind}' (dynamic or static)")


def synthetic_prompt(n, vocab, seed=1):
    """ort_decode.mjs's xorshift filler prompt (token values do not matter for timing)."""
    x, out = seed or 1, []
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out.append(x % vocab)
    return out


# ---- modes -----------------------------------------------------------------------------------------
def check(a, model):
    """Logits of ORT and of both caches here, step by step, on the same tokens."""
    vocab = model.cfg["vocab"]
    prompt = [(i * 7919 + 11) % vocab for i in range(a.check_prompt)]
    steps = a.check_steps
    with tempfile.TemporaryDirectory(prefix="torch_peer_check_") as d:
        cmd = ["node", ORT_DECODE, a.model, "--prompt", ",".join(map(str, prompt)), "--steps", str(steps),
               "--threads", "1", "--dump-logits", d, "--dump-steps", ",".join(map(str, range(steps)))]
        r = subprocess.run(cmd, text=True, capture_output=True)
        if r.returncode != 0:
            raise PeerError(f"onnxruntime failed ({' '.join(cmd)}):\n{r.stderr.strip()}")
        index = json.load(open(os.path.join(d, "index.json")))
        ref = {s["step"]: np.fromfile(os.path.join(d, s["file"]), dtype="<f4") for s in index["steps"]}
    tokens = index["tokens"]
    report = {"prompt_tokens": len(prompt), "steps": steps, "ort_tokens": tokens, "blas": blas_library()}
    ok = True
    for kind in ("dynamic", "static"):
        cache = make_cache(model, kind, 1, a.static_cache_len)
        worst, worst_rel, agree = 0.0, 0.0, 0
        with torch.inference_mode():
            ids = prompt
            for s in range(steps):
                logits = model.forward(torch.tensor([ids]), cache)[0, -1].float().cpu().numpy()
                want = ref[s]
                if logits.shape != want.shape:
                    raise PeerError(f"{kind}: logits of step {s} have shape {logits.shape}, onnxruntime's {want.shape}")
                diff = float(np.max(np.abs(logits - want)))
                scale = max(1.0, float(np.max(np.abs(want))))
                worst, worst_rel = max(worst, diff), max(worst_rel, diff / scale)
                agree += int(np.argmax(logits)) == tokens[s]
                ids = [tokens[s]]  # the token ORT picked, so both see the same sequence
        passed = worst_rel <= a.tolerance and agree == steps
        ok &= passed
        report[kind] = {"max_abs_diff": worst, "max_rel_diff": worst_rel, "argmax_agree": agree, "passed": passed}
    report["passed"] = ok
    report["tolerance"] = a.tolerance
    print(json.dumps(report))
    if not ok:
        raise PeerError(f"logits differ from onnxruntime's beyond max |diff| / max(1, max |logit|) <= {a.tolerance} "
                        f"or greedy tokens disagree: {json.dumps(report)}")


def time_decode(a, model):
    window, warm = a.window, a.warmup
    prefill = a.context - window - warm
    if window < 1 or prefill < 1:
        raise PeerError(f"--context {a.context} must exceed --window {window} + --warmup {warm}")
    cache = make_cache(model, a.cache, 1, a.static_cache_len)
    if a.context > getattr(cache, "max_len", a.context):
        raise PeerError(f"--context {a.context} exceeds --static-cache-len {a.static_cache_len}")
    prompt = synthetic_prompt(prefill, model.cfg["vocab"])
    step = None
    if a.compile:
        # transformers' recipe for a StaticCache: the caches at fixed addresses, the one-token step
        # compiled (CUDA graphs on a GPU); the prefill runs uncompiled. Compiled in the warm-up.
        mark = getattr(getattr(torch, "_dynamo", None), "mark_static_address", None)
        for t in (cache.k + cache.v if mark else []):
            mark(t)
        step = torch.compile(model.step, mode="reduce-overhead", fullgraph=True)
    times = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        logits = model.forward(torch.tensor([prompt]), cache)
        sync()
        prefill_ms = (time.perf_counter() - t0) * 1e3
        tok = int(logits[0, -1].argmax())
        for i in range(warm + window):
            t = time.perf_counter()
            logits = forward_and_advance(model, torch.tensor([[tok]]), cache, step)
            tok = int(logits[0, -1].argmax())  # waits for the step (as bmc's greedy step does)
            if i >= warm:
                times.append(time.perf_counter() - t)
    c = model.cfg
    row_bytes = 2 * c["layers"] * model.kv_heads * c["head_dim"] * torch.finfo(DTYPE).bits // 8
    out = {"peer": f"torch-{a.cache}" + ("-compile" if a.compile else ""), "torch_version": torch.__version__,
           "device": str(DEVICE), "dtype": str(DTYPE).replace("torch.", ""), "blas": blas_library(),
           "threads": torch.get_num_threads(),
           "context": a.context, "context_start": cache.length() - window, "context_end": cache.length(),
           "window": window, "warmup": warm, "prefill_tokens": prefill, "prefill_ms": round(prefill_ms, 3),
           "ms_per_token": 1e3 * sum(times) / len(times),
           "ms_per_token_median": 1e3 * sorted(times)[len(times) // 2], "ms_per_token_min": 1e3 * min(times),
           "tok_s": len(times) / sum(times),
           "kv_alloc_mb": cache.bytes_allocated() / 1e6, "kv_used_mb": cache.length() * row_bytes / 1e6}
    if DEVICE.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(DEVICE)
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated(DEVICE) / 1e6
    print(json.dumps(out))


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


MASK64 = (1 << 64) - 1


class ReplayDrafter:
    """bmc::ReplayDrafter (runtime/Speculative.cpp): the known continuation, each token replaced by
    another with probability 1 - p, drawn from the same splitmix64 stream."""

    def __init__(self, sequence, p, seed, vocab):
        self.seq, self.p, self.state, self.vocab = sequence, p, seed, vocab

    def uniform(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        return (z >> 11) * (1.0 / 9007199254740992.0)

    def propose(self, context, k):
        if len(context) > len(self.seq) or self.seq[:len(context)] != context:
            return []
        out = []
        for j in range(len(context), min(len(self.seq), len(context) + k)):
            t = self.seq[j]
            if self.uniform() >= self.p:
                t = (t + 1 + int(self.uniform() * (self.vocab - 1))) % self.vocab
            out.append(t)
        return out


def crop(cache, length):
    """DynamicCache.crop: keep the first `length` rows (a view; the next cat copies)."""
    for i in range(len(cache.k)):
        cache.k[i] = cache.k[i][..., :length, :]
        cache.v[i] = cache.v[i][..., :length, :]


def time_speculative(a, model):
    vocab, window = model.cfg["vocab"], a.window
    prompt = [(i * 7919 + 104729 + 1) % vocab for i in range(a.context - window)]  # bmc_bench_spec's

    def run(drafter):
        cache = make_cache(model, "dynamic", 1, a.static_cache_len)
        passes = proposed = accepted = 0
        with torch.inference_mode():
            logits = model.forward(torch.tensor([prompt]), cache)
            gen = [int(logits[0, -1].argmax())]
            t0 = time.perf_counter()
            while len(gen) < window:
                k = min(a.spec_k, window - len(gen) - 1) if drafter else 0
                drafts = drafter.propose(prompt + gen, k) if k > 0 else []
                before = cache.length()
                logits = model.forward(torch.tensor([[gen[-1]] + drafts]), cache)[0]
                passes += 1
                proposed += len(drafts)
                n = 0
                while True:
                    y = int(logits[n].argmax())
                    if n < len(drafts) and drafts[n] == y:
                        n += 1
                        continue
                    break
                accepted += n
                if n < len(drafts):
                    crop(cache, before + 1 + n)
                gen += drafts[:n] + [y]
            sec = time.perf_counter() - t0
        return gen[:window], sec, passes, proposed, accepted

    reference, _, _, _, _ = run(None)
    tokens, sec, passes, proposed, accepted = run(ReplayDrafter(prompt + reference, a.spec_p, a.seed, vocab))
    if tokens != reference:
        raise PeerError("assisted generation changed the greedy tokens")
    out = {"peer": "torch-dynamic-sd", "torch_version": torch.__version__, "blas": blas_library(),
           "threads": torch.get_num_threads(), "context": a.context, "window": window, "spec_k": a.spec_k,
           "spec_p": a.spec_p, "ms_per_token": 1e3 * sec / (window - 1), "target_passes": passes,
           "tokens_per_pass": (window - 1) / passes, "acceptance": accepted / max(proposed, 1)}
    print(json.dumps(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare logits with onnxruntime's (exit 1 if they differ)")
    mode.add_argument("--time", action="store_true", help="time decode steps (one JSON line)")
    mode.add_argument("--spec", action="store_true", help="time assisted generation with a replay drafter")
    ap.add_argument("--spec-k", type=int, default=4)
    ap.add_argument("--spec-p", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", choices=("dynamic", "static"), default="dynamic")
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: weights (fp16) and caches on the GPU (default cpu, float32)")
    ap.add_argument("--compile", action="store_true",
                    help="--time --cache static: the decode step through torch.compile")
    ap.add_argument("--static-cache-len", type=int, default=4096,
                    help="StaticCache max_cache_len: rows preallocated and attended per step (default 4096)")
    ap.add_argument("--check-prompt", type=int, default=12)
    ap.add_argument("--check-steps", type=int, default=6)
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="--check: max |logit diff| / max(1, max |logit|) allowed (default 1e-4)")
    a = ap.parse_args(argv)
    global DEVICE, DTYPE
    if a.compile and not (a.time and a.cache == "static"):
        sys.exit("torch_peer: --compile goes with --time --cache static (transformers compiles the static-cache step)")
    if a.compile and not hasattr(torch, "compile"):
        print(f"torch_peer: torch.compile is unavailable in torch {torch.__version__}: the static-cache + "
              f"torch.compile row is not reported", file=sys.stderr)
        sys.exit(3)
    if a.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit(f"torch_peer: --device cuda: torch {torch.__version__} sees no CUDA device "
                     f"(torch.cuda.is_available() is false; built with CUDA {torch.version.cuda})")
        if a.check:
            sys.exit("torch_peer: --check runs on the CPU (it compares float32 logits with onnxruntime's)")
        DEVICE, DTYPE = torch.device("cuda"), torch.float16
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    try:
        model = build(a.model)
        if a.check:
            check(a, model)
        elif a.spec:
            time_speculative(a, model)
        else:
            time_decode(a, model)
    except PeerError as e:
        sys.exit(f"torch_peer: {e}")


if __name__ == "__main__":
    main()

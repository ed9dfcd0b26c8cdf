"""Shared pieces of the demo build: paths, hand-written safetensors I/O, the byte-level BPE tokenizer, and a
small PyTorch Llama (written from the Hugging Face LlamaForCausalLM definition; no transformers import) with
optional LoRA on its linear layers.
"""

import json
import math
import os
import re
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.join(HERE, ".build")  # intermediate outputs (corpus, checkpoints, logs); git-ignored
MODEL_DIR = os.path.join(ROOT, "apps", "studio", "public", "demo", "model")
DATA_DIR = os.path.join(ROOT, "apps", "studio", "public", "demo", "data")
DEMO_DIR = os.path.join(ROOT, "apps", "studio", "public", "demo")

# The model. ~2.0M parameters, F32, tied embeddings: 7.9 MB on disk.
MODEL = {
    "hidden": 192,
    "layers": 4,
    "heads": 6,
    "kv_heads": 6,
    "head_dim": 32,
    "inter": 512,
    "vocab": 1024,
    "max_pos": 512,
    "rope_theta": 10000.0,
    "eps": 1e-5,
}

# Tokenizer: 256 byte tokens + N_MERGES merges + 3 specials = 1024 = MODEL["vocab"].
SPECIALS = ["<s>", "</s>", "<pad>"]
N_MERGES = MODEL["vocab"] - 256 - len(SPECIALS)
MODEL_MAX_LENGTH = 512


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


# ---------------------------------------------------------------------------------------------------------
# safetensors (8-byte LE header length, JSON header, raw little-endian data; header padded with spaces to 8)
# ---------------------------------------------------------------------------------------------------------


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> float tensor, written as F32 in sorted name order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    chunks, offset = [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().cpu().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def read_safetensors(path):
    import numpy as np

    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy()).reshape(info["shape"])
    return out


# ---------------------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 pre-tokenisation), trained deterministically
# ---------------------------------------------------------------------------------------------------------


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {v: k for k, v in BYTE_ENC.items()}
GPT2_PATTERN_JS = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# Python equivalent (\p{L} ~ [^\W\d_], \p{N} ~ \d); exact on the ASCII text this demo uses.
GPT2_PATTERN_PY = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")

# Renders a conversation as the plain "Question: ...\nAnswer:\n..." text the model was pretrained on, so that
# conversational datasets and prompt/completion datasets give the same tokens. Assistant turns render as their
# content only (the trainer appends EOS to completions, as for prompt/completion rows).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if not loop.first %}{{ '\\n\\n' }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ 'Question: ' + message['content'] + '\\nAnswer:\\n' }}"
    "{% else %}{{ message['content'] }}{% endif %}"
    "{% endfor %}"
)


def render_chat(messages, add_generation_prompt=False):
    """Python rendering of CHAT_TEMPLATE (add_generation_prompt adds nothing: a user turn ends with 'Answer:\\n')."""
    parts = []
    for i, m in enumerate(messages):
        if i:
            parts.append("\n\n")
        parts.append("Question: " + m["content"] + "\nAnswer:\n" if m["role"] == "user" else m["content"])
    return "".join(parts)


def train_bpe(texts, n_merges):
    words = {}
    for text in texts:
        for piece in GPT2_PATTERN_PY.findall(text):
            w = tuple(BYTE_ENC[b] for b in piece.encode("utf-8"))
            words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + c
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent; ties broken lexicographically
        merges.append(best)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.vocab = {BYTE_ENC[b]: b for b in range(256)}
        for a, b in self.merges:
            assert a + b not in self.vocab, a + b
            self.vocab[a + b] = len(self.vocab)
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.specials = {s: len(self.vocab) + i for i, s in enumerate(SPECIALS)}
        self.size = len(self.vocab) + len(self.specials)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.specials.items()})
        self.eos_id = self.specials["</s>"]
        self.bos_id = self.specials["<s>"]
        self.pad_id = self.specials["<pad>"]
        self._cache = {}

    @staticmethod
    def load(model_dir):
        with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
            tj = json.load(f)
        return Tokenizer([tuple(m.split(" ")) for m in tj["model"]["merges"]])

    def bpe(self, word):
        if word in self._cache:
            return self._cache[word]
        parts = list(word)
        while len(parts) > 1:
            rank, i = min((self.ranks.get((parts[i], parts[i + 1]), math.inf), i) for i in range(len(parts) - 1))
            if rank == math.inf:
                break
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]
        ids = [self.vocab[p] for p in parts]
        self._cache[word] = ids
        return ids

    def encode(self, text):
        """Ids of text without added special tokens (special tokens written in the text are recognised)."""
        ids = []
        split = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")
        for seg in split.split(text):
            if not seg:
                continue
            if seg in self.specials:
                ids.append(self.specials[seg])
                continue
            for piece in GPT2_PATTERN_PY.findall(seg):
                ids.extend(self.bpe("".join(BYTE_ENC[b] for b in piece.encode("utf-8"))))
        return ids

    def decode(self, ids, skip_special=True):
        out, buf = [], []
        for i in ids:
            t = self.id_to_token[i]
            if t in self.specials:
                out.append(bytes(buf).decode("utf-8", errors="replace"))
                buf = []
                if not skip_special:
                    out.append(t)
            else:
                buf.extend(BYTE_DEC[c] for c in t)
        out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)

    def tokenizer_json(self):
        added = [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for t, i in self.specials.items()
        ]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            # No BOS/EOS added on encode: the model was pretrained on documents separated by </s> only.
            "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": self.vocab,
                "merges": [a + " " + b for a, b in self.merges],
            },
        }

    def tokenizer_config(self):
        return {
            "add_bos_token": False,
            "add_eos_token": False,
            "added_tokens_decoder": {
                str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
                for t, i in self.specials.items()
            },
            "bos_token": "<s>",
            "chat_template": CHAT_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "eos_token": "</s>",
            "errors": "replace",
            "model_max_length": MODEL_MAX_LENGTH,
            "pad_token": "<pad>",
            "padding_side": "right",
            "split_special_tokens": False,
            "tokenizer_class": "PreTrainedTokenizerFast",
            "unk_token": None,
        }

    def write(self, model_dir):
        os.makedirs(model_dir, exist_ok=True)
        write_json(os.path.join(model_dir, "tokenizer.json"), self.tokenizer_json())
        write_json(os.path.join(model_dir, "tokenizer_config.json"), self.tokenizer_config())


def config_json(tok):
    m = MODEL
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": tok.bos_id,
        "eos_token_id": tok.eos_id,
        "pad_token_id": tok.pad_id,
        "head_dim": m["head_dim"],
        "hidden_act": "silu",
        "hidden_size": m["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": m["inter"],
        "max_position_embeddings": m["max_pos"],
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": m["heads"],
        "num_hidden_layers": m["layers"],
        "num_key_value_heads": m["kv_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": m["eps"],
        "rope_scaling": None,
        "rope_theta": m["rope_theta"],
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
        "use_cache": True,
        "vocab_size": m["vocab"],
    }


# ---------------------------------------------------------------------------------------------------------
# The model (HF Llama semantics: RMSNorm, rotate-half RoPE, SwiGLU, tied lm_head) with optional LoRA
# ---------------------------------------------------------------------------------------------------------

ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"]
MLP = ["gate_proj", "up_proj", "down_proj"]


class LoRALinear(nn.Module):
    """y = x W^T + scale * (x A^T) B^T. PEFT init: A Kaiming-uniform(a=sqrt(5)), B zero."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=True)
        self.A = None
        self.B = None
        self.scale = 0.0

    def add_lora(self, r, alpha, gen):
        out_f, in_f = self.weight.shape
        bound = 1.0 / math.sqrt(in_f)  # kaiming_uniform_(a=sqrt(5)) on [r, in]
        self.A = nn.Parameter((torch.rand(r, in_f, generator=gen) * 2 - 1) * bound)
        self.B = nn.Parameter(torch.zeros(out_f, r))
        self.scale = alpha / r

    def merge(self):
        if self.A is not None:
            with torch.no_grad():
                self.weight += self.scale * self.B @ self.A
            self.A = self.B = None

    def forward(self, x):
        y = lin(x, self.weight)
        if self.A is not None:
            y = y + self.scale * lin(lin(x, self.A), self.B)
        return y


# This machine's torch (Debian 1.13) multiplies matrices with the reference BLAS (~5 GFLOP/s), but its
# convolutions run on oneDNN (~100 GFLOP/s). So products are written as 1x1 / grouped convolutions: the
# same math (checked against plain matmul in selftest()), 20x faster here.
FAST = True


def lin(x, w):
    """x [..., in] @ w[out, in]^T."""
    if not FAST:
        return x @ w.T
    shp = x.shape
    y = F.conv1d(x.reshape(-1, shp[-1]).T.unsqueeze(0), w.unsqueeze(-1))  # [1, out, N]
    return y[0].T.reshape(*shp[:-1], w.shape[0])


def bmm_nt(q, k):
    """q [G, T, d] @ k [G, S, d]^T -> [G, T, S]."""
    if not FAST:
        return q @ k.transpose(-1, -2)
    G, T, d = q.shape
    S = k.shape[1]
    y = F.conv1d(q.transpose(1, 2).reshape(1, G * d, T), k.reshape(G * S, d, 1), groups=G)  # [1, G*S, T]
    return y.reshape(G, S, T).transpose(1, 2)


def bmm_nn(p, v):
    """p [G, T, S] @ v [G, S, d] -> [G, T, d]."""
    if not FAST:
        return p @ v
    G, T, S = p.shape
    d = v.shape[2]
    y = F.conv1d(p.transpose(1, 2).reshape(1, G * S, T), v.transpose(1, 2).reshape(G * d, S, 1), groups=G)  # [1, G*d, T]
    return y.reshape(G, d, T).transpose(1, 2)


class Llama(nn.Module):
    def __init__(self, weights=None, seed=0):
        super().__init__()
        m = MODEL
        self.m = m
        h, V = m["hidden"], m["vocab"]
        g = torch.Generator().manual_seed(seed)
        if weights is None:
            weights = init_weights(g)
        self.embed = nn.Parameter(weights["model.embed_tokens.weight"].clone())
        self.layers = nn.ModuleList()
        for i in range(m["layers"]):
            L = nn.Module()
            L.ln1 = nn.Parameter(weights[f"model.layers.{i}.input_layernorm.weight"].clone())
            L.ln2 = nn.Parameter(weights[f"model.layers.{i}.post_attention_layernorm.weight"].clone())
            for s in ATTN:
                setattr(L, s, LoRALinear(weights[f"model.layers.{i}.self_attn.{s}.weight"].clone()))
            for s in MLP:
                setattr(L, s, LoRALinear(weights[f"model.layers.{i}.mlp.{s}.weight"].clone()))
            self.layers.append(L)
        self.norm = nn.Parameter(weights["model.norm.weight"].clone())
        hd = m["head_dim"]
        inv = 1.0 / m["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(m["max_pos"], dtype=torch.float64)[:, None] * inv[None, :]
        emb = torch.cat([ang, ang], -1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)

    def state(self):
        """HF tensor names -> tensors (base weights only; LoRA must be merged or dropped first)."""
        out = {"model.embed_tokens.weight": self.embed.data, "model.norm.weight": self.norm.data}
        for i, L in enumerate(self.layers):
            out[f"model.layers.{i}.input_layernorm.weight"] = L.ln1.data
            out[f"model.layers.{i}.post_attention_layernorm.weight"] = L.ln2.data
            for s in ATTN:
                out[f"model.layers.{i}.self_attn.{s}.weight"] = getattr(L, s).weight.data
            for s in MLP:
                out[f"model.layers.{i}.mlp.{s}.weight"] = getattr(L, s).weight.data
        return out

    def linears(self):
        for i, L in enumerate(self.layers):
            for s in ATTN + MLP:
                yield i, s, getattr(L, s)

    @staticmethod
    def rms(x, w, eps):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def forward(self, ids, attn_mask=None, position_ids=None):
        """ids [B, T]; attn_mask [B, T] (1 = real token); position_ids [B, T] (default 0..T-1)."""
        m = self.m
        B, T = ids.shape
        nh, nkv, hd, eps = m["heads"], m["kv_heads"], m["head_dim"], m["eps"]
        x = self.embed[ids]
        if position_ids is None:
            cos, sin = self.cos[:T], self.sin[:T]
        else:
            cos, sin = self.cos[position_ids][:, None], self.sin[position_ids][:, None]  # [B, 1, T, hd]

        def rope(t):
            half = hd // 2
            return t * cos + torch.cat([-t[..., half:], t[..., :half]], -1) * sin

        mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()[None, None]
        if attn_mask is not None:
            # Padding keys are masked; every position may attend to itself, so a padding query never sees an
            # all-masked row (its output is unused and must not be NaN).
            mask = (mask & attn_mask.bool()[:, None, None, :]) | torch.eye(T, dtype=torch.bool, device=ids.device)[None, None]
        for L in self.layers:
            hN = self.rms(x, L.ln1, eps)
            q = rope(L.q_proj(hN).view(B, T, nh, hd).transpose(1, 2))
            k = rope(L.k_proj(hN).view(B, T, nkv, hd).transpose(1, 2))
            v = L.v_proj(hN).view(B, T, nkv, hd).transpose(1, 2)
            if nkv != nh:
                k = k.repeat_interleave(nh // nkv, 1)
                v = v.repeat_interleave(nh // nkv, 1)
            s = bmm_nt(q.reshape(B * nh, T, hd), k.reshape(B * nh, T, hd)).view(B, nh, T, T) / math.sqrt(hd)
            s = s.masked_fill(~mask, float("-inf"))
            p = torch.softmax(s, -1).reshape(B * nh, T, T)
            o = bmm_nn(p, v.reshape(B * nh, T, hd)).view(B, nh, T, hd).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + L.o_proj(o)
            hN = self.rms(x, L.ln2, eps)
            x = x + L.down_proj(F.silu(L.gate_proj(hN)) * L.up_proj(hN))
        x = self.rms(x, self.norm, eps)
        return lin(x, self.embed)


def init_weights(g):
    """GPT-2 style init: N(0, 0.02), residual output projections scaled by 1/sqrt(2 * layers); norms at 1."""
    m = MODEL
    h, V, I, hd = m["hidden"], m["vocab"], m["inter"], m["head_dim"]
    std = 0.02
    res_std = std / math.sqrt(2 * m["layers"])
    w = {"model.embed_tokens.weight": torch.randn(V, h, generator=g) * std, "model.norm.weight": torch.ones(h)}
    shapes = {
        "self_attn.q_proj": (m["heads"] * hd, h),
        "self_attn.k_proj": (m["kv_heads"] * hd, h),
        "self_attn.v_proj": (m["kv_heads"] * hd, h),
        "self_attn.o_proj": (h, m["heads"] * hd),
        "mlp.gate_proj": (I, h),
        "mlp.up_proj": (I, h),
        "mlp.down_proj": (h, I),
    }
    for i in range(m["layers"]):
        w[f"model.layers.{i}.input_layernorm.weight"] = torch.ones(h)
        w[f"model.layers.{i}.post_attention_layernorm.weight"] = torch.ones(h)
        for n, shp in shapes.items():
            s = res_std if n.endswith(("o_proj", "down_proj")) else std
            w[f"model.layers.{i}.{n}.weight"] = torch.randn(*shp, generator=g) * s
    return w


def save_model(model, tok, model_dir, metadata=None):
    os.makedirs(model_dir, exist_ok=True)
    write_safetensors(os.path.join(model_dir, "model.safetensors"), model.state(), metadata=metadata or {"format": "pt"})
    write_json(os.path.join(model_dir, "config.json"), config_json(tok))
    tok.write(model_dir)


def load_model(model_dir):
    return Llama(read_safetensors(os.path.join(model_dir, "model.safetensors")))


@torch.no_grad()
def generate(model, tok, prompts, max_new_tokens=48, batch_size=64):
    """Greedy decoding, stopping each row at </s>; returns the decoded new text (special tokens skipped).
    Prompts are batched with left padding and per-row position ids (equal to unbatched decoding)."""
    outs = []
    for i in range(0, len(prompts), batch_size):
        chunk = [tok.encode(p) for p in prompts[i : i + batch_size]]
        L = max(map(len, chunk))
        ids = torch.tensor([[tok.pad_id] * (L - len(c)) + c for c in chunk])
        am = torch.tensor([[0] * (L - len(c)) + [1] * len(c) for c in chunk])
        new = [[] for _ in chunk]
        done = [False] * len(chunk)
        for _ in range(max_new_tokens):
            pos = (am.cumsum(1) - 1).clamp(min=0)
            nxt = model(ids, am, pos)[:, -1].argmax(-1)
            for r, t in enumerate(nxt.tolist()):
                if not done[r]:
                    if t == tok.eos_id:
                        done[r] = True
                    else:
                        new[r].append(t)
            if all(done):
                break
            ids = torch.cat([ids, nxt[:, None]], 1)
            am = torch.cat([am, torch.ones(len(chunk), 1, dtype=am.dtype)], 1)
        outs += [tok.decode(n) for n in new]
    return outs


@torch.no_grad()
def generate_one(model, tok, prompt, max_new_tokens=48):
    """Unbatched greedy decoding (the reference generate() is checked against)."""
    x = torch.tensor([tok.encode(prompt)])
    new = []
    for _ in range(max_new_tokens):
        t = int(model(x)[0, -1].argmax())
        if t == tok.eos_id:
            break
        new.append(t)
        x = torch.cat([x, torch.tensor([[t]])], 1)
    return tok.decode(new)

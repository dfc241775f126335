"""PyTorch's side of tests/test_checkpoint.cpp: safetensors files move between gradgrad and PyTorch.

Usage: torch_safetensors.py DIR. For every DIR/<case>.config.json (a gradgrad AutoencoderConfig) this builds
the same autoencoder in PyTorch (same module tree, so the same state_dict names) and

  - loads DIR/<case>.ours.safetensors (a gradgrad checkpoint) strictly into it and writes its output on
    DIR/<case>.input.safetensors ("input") to DIR/<case>.ours_out.safetensors ("output");
  - saves its own freshly initialised weights to DIR/<case>.torch.safetensors, the config under the
    metadata key "gradgrad.config", and their output on the same input to DIR/<case>.torch_out.safetensors.

Debian's torch 1.13 has no safetensors package, so the format is read and written here with json and struct.
"""
import glob
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": (torch.float32, np.float32), "F64": (torch.float64, np.float64)}


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        data = t.detach().contiguous().cpu().numpy().tobytes()
        dtype = {torch.float32: "F32", torch.float64: "F64"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    buffer = raw[8 + n :]
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        torch_dtype, np_dtype = DTYPES[e["dtype"]]
        array = np.frombuffer(buffer[begin:end], dtype=np_dtype).reshape(e["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


def activation(spec):
    if spec.startswith("leaky_relu("):
        return nn.LeakyReLU(float(spec[len("leaky_relu(") : -1]))
    return {
        "identity": nn.Identity,
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "softplus": nn.Softplus,
        "silu": nn.SiLU,
        "gelu": nn.GELU,
    }[spec]()


class Autoencoder(nn.Module):
    """The layout of models/autoencoder.h, layer for layer."""

    def __init__(self, c):
        super().__init__()
        self.k = c["code_dim"]
        head = 2 * self.k if c.get("variational", False) else self.k
        act, code_act, out_act = c["activation"], c["code_activation"], c["output_activation"]
        shape = c["input_shape"]
        enc, dec = [], []
        if c["arch"] == "mlp":
            widths = [math.prod(shape)] + c["hidden"]
            n = len(widths)
            enc.append(nn.Flatten())
            for i in range(n):
                last = i == n - 1
                enc += [nn.Linear(widths[i], head if last else widths[i + 1]), activation(code_act if last else act)]
            for i in reversed(range(n)):
                dec += [nn.Linear(self.k if i == n - 1 else widths[i + 1], widths[i]), activation(out_act if i == 0 else act)]
            dec.append(nn.Unflatten(1, tuple(shape)))
        else:
            C, H, W = shape
            d = c["width"]
            ph, pw = (16 - H % 16) % 16, (16 - W % 16) % 16
            grid = ((H + ph) // 16, (W + pw) // 16)
            ch = [C, d, 2 * d, 4 * d, 8 * d]
            enc.append(nn.ZeroPad2d((pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)))
            for i in range(4):
                enc += [nn.Conv2d(ch[i], ch[i + 1], 3, 2, 1), activation(act)]
            enc += [nn.Flatten(), nn.Linear(8 * d * grid[0] * grid[1], head), activation(code_act)]
            dec += [nn.Linear(self.k, 8 * d * grid[0] * grid[1]), activation(act), nn.Unflatten(1, (8 * d, *grid))]
            for i in range(4, 0, -1):
                dec += [nn.ConvTranspose2d(ch[i], ch[i - 1], 3, 2, 1, 1), activation(out_act if i == 1 else act)]
            dec.append(nn.ZeroPad2d((-(pw // 2), -(pw - pw // 2), -(ph // 2), -(ph - ph // 2))))  # crops
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        self.to(DTYPES["F32" if c.get("dtype", "f32") == "f32" else "F64"][0])

    def forward(self, x):
        return self.decoder(self.encoder(x)[:, : self.k])


def main(folder):
    torch.manual_seed(0)
    for config_path in sorted(glob.glob(os.path.join(folder, "*.config.json"))):
        case = config_path[: -len(".config.json")]
        with open(config_path) as f:
            config = json.load(f)
        x = read_safetensors(case + ".input.safetensors")[0]["input"]
        with torch.no_grad():
            ours = Autoencoder(config)
            ours.load_state_dict(read_safetensors(case + ".ours.safetensors")[0], strict=True)
            write_safetensors(case + ".ours_out.safetensors", {"output": ours(x)})

            theirs = Autoencoder(config)
            write_safetensors(case + ".torch.safetensors", theirs.state_dict(), {"gradgrad.config": json.dumps(config)})
            write_safetensors(case + ".torch_out.safetensors", {"output": theirs(x)})


if __name__ == "__main__":
    main(sys.argv[1])

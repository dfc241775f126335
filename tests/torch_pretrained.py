"""PyTorch's side of tests/test_pretrained.cpp: an autoencoder trained in PyTorch and loaded by gradgrad.

Usage: torch_pretrained.py CONFIG DIR. CONFIG is a gradgrad training config whose model section has arch
"sequential" (models/layer_spec.h): each layer is {"kind": <torch.nn class>, <its keyword arguments>}, so the
encoder and decoder are built here as nn.Sequential(getattr(nn, kind)(**arguments), ...) in a module with the
attributes `encoder` and `decoder`, whose state_dict names (encoder.0.weight, decoder.3.bias, ...) are the
ones gradgrad gives the same layers. The model is trained for a few Adam steps on uniform noise of the
config's input_shape, so its weights are PyTorch's own, and written as

  DIR/weights.safetensors  its state_dict and nothing else, as a user would save it;
  DIR/latent_map.json      {"z": codes ~ N(0, I_k), "latent_map": E(D(z))}, float32 values as JSON numbers.
"""
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_safetensors import write_safetensors  # noqa: E402


def layer(spec):
    # PyTorch wants tuples where JSON has lists (Unflatten's unflattened_size, ZeroPad2d's padding).
    arguments = {key: tuple(v) if isinstance(v, list) else v for key, v in spec.items() if key != "kind"}
    return getattr(nn, spec["kind"])(**arguments)


class Autoencoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.encoder = nn.Sequential(*map(layer, model["encoder"]))
        self.decoder = nn.Sequential(*map(layer, model["decoder"]))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main(config_path, folder):
    with open(config_path) as f:
        model_config = json.load(f)["model"]
    torch.manual_seed(0)
    ae = Autoencoder(model_config)
    optimizer = torch.optim.Adam(ae.parameters(), lr=1e-3)
    for _ in range(10):
        x = torch.rand(32, *model_config["input_shape"])
        loss = nn.functional.mse_loss(ae(x), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    write_safetensors(os.path.join(folder, "weights.safetensors"), ae.state_dict())
    with torch.no_grad():
        z = torch.randn(8, model_config["code_dim"])
        latent_map = ae.encoder(ae.decoder(z))
    with open(os.path.join(folder, "latent_map.json"), "w") as f:
        json.dump({"z": z.tolist(), "latent_map": latent_map.tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

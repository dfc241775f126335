#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets: fuzz/corpus/idx/ and fuzz/corpus/json/ (small valid and broken
files, each named for what it is). Deterministic; rerun after changing it and commit the result."""
import gzip
import json
import pathlib
import struct
import zlib

root = pathlib.Path(__file__).resolve().parent / "corpus"


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(folder, name, data):
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


images = idx(0x08, [2, 4, 4], range(0, 256, 8))
labels = idx(0x08, [5], [3, 1, 4, 1, 5])
write("idx", "images_u8_2x4x4.idx", images)
write("idx", "labels_u8_5.idx", labels)
write("idx", "i16_2x3.idx", idx(0x0B, [2, 3], range(12)))
write("idx", "i32_4d.idx", idx(0x0C, [1, 2, 1, 2], range(16)))
write("idx", "f32_3.idx", idx(0x0D, [3], struct.pack(">3f", 0.0, 0.5, 1.0)))
write("idx", "f64_2.idx", idx(0x0E, [2], struct.pack(">2d", -1.0, 2.5)))
write("idx", "i8_1.idx", idx(0x09, [1], [0x80]))
write("idx", "images_u8_2x4x4.idx.gz", gz(images))
write("idx", "labels_two_members.gz", gz(labels[:6]) + gz(labels[6:]))
write("idx", "truncated_payload.idx", images[:-5])
write("idx", "trailing_bytes.idx", labels + b"\x00\x01")
write("idx", "bad_magic.idx", b"\x1f\x00\x08\x01\x00\x00\x00\x01\x00")
write("idx", "zero_dim.idx", idx(0x08, [3, 0], []))
write("idx", "truncated_stream.gz", gz(images)[:-10])
write("idx", "lying_header.gz", gz(idx(0x08, [60000, 28, 28], range(64))))

pixels = ["0", "1", "0.5", "0.624", "0.992", "0.196", "1e-3", "0.25"]
one_image = ",".join(pixels[i % 8] for i in range(784))
write("json", "one_image.json", '{ "data": [' + one_image + "]}")
write("json", "two_images_extra_key.json", '{"label": 7, "data": [' + one_image + "," + one_image + "]}")
write("json", "wrong_length.json", '{ "data": [0,0.5,1]}')
write("json", "out_of_range.json", '{ "data": [' + ",".join(["1.5"] + ["0"] * 783) + "]}")
write("json", "string_value.json", '{ "data": [' + ",".join(['"NaN"'] + ["0"] * 783) + "]}")
write("json", "missing_data.json", '{ "pixels": [] }')
write("json", "not_json.json", "{ data: [0, 1")


def safetensors(header, buffer=b""):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + buffer


two = struct.pack("<2f", 1.0, -2.0)
sums = json.dumps({"a": "%08x" % zlib.crc32(two)}, separators=(",", ":"))
entry_a = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
write("safetensors", "one_f32.safetensors", safetensors({"__metadata__": {"gradgrad.crc32": sums}, "a": entry_a}, two))
write("safetensors", "f64_and_empty.safetensors",
      safetensors({"b": {"dtype": "F64", "shape": [1, 1], "data_offsets": [0, 8]},
                   "e": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}}, struct.pack("<d", 0.5)))
write("safetensors", "bad_checksum.safetensors",
      safetensors({"__metadata__": {"gradgrad.crc32": '{"a":"00000000"}'}, "a": entry_a}, two))
write("safetensors", "overlap.safetensors",
      safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, two))
write("safetensors", "bf16.safetensors", safetensors({"a": dict(entry_a, dtype="BF16", shape=[4])}, two))
write("safetensors", "nested.safetensors", safetensors({"a": [[[[[[[[1]]]]]]]]}))

config = {"seed": 0, "data": {"name": "two_moons", "n": 256},
          "model": {"arch": "mlp", "hidden": [64, 64], "code_dim": 2},
          "regularizer": [{"kind": "contractive", "lambda": 0.1}], "training": {"epochs": 3, "batch_size": 64}}
write("config", "train_config.json", json.dumps(config, indent=2))
write("config", "run.json", '{"kind": "train", "command": "gradgrad train --config c.json"}')
write("config", "deep.json", "[" * 70 + "]" * 70)
write("config", "overflow.json", '{"lr": 1e400}')
write("config", "bad_utf8.json", b'{"name": "\xff\xfe"}')
write("config", "unicode.json", r'{"name": "\u00e9\ud83d\ude00"}')

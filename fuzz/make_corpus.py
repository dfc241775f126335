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

# Images: two bytes for fuzz_image (channels: odd = 3, even = 1; size - 1), then the file. Written by hand here
# for the formats whose layout is short (PNG, BMP, PGM/PPM, TGA, HDR, a 1x1 GIF); the JPEG seed,
# fuzz/corpus/image/python.jpg, is CPython's Lib/test/imghdrdata/python.jpg (PSF licence) behind the two
# bytes, committed as it is, since a JPEG encoder is beyond a corpus script.


def png(width, height, color_type, bit_depth, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def bmp(width, height, pixels_bgr):
    stride = (width * 3 + 3) // 4 * 4
    rows = b"".join(bytes(pixels_bgr[y * width * 3:(y + 1) * width * 3]).ljust(stride, b"\x00") for y in range(height))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return header + info + rows


def tga(width, height, pixels_bgr, rle=False):
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 10 if rle else 2, 0, 0, 0, 0, 0, width, height, 24, 0)
    if not rle:
        return header + bytes(pixels_bgr)
    body = b"".join(bytes([0x80 | 0]) + bytes(pixels_bgr[i:i + 3]) for i in range(0, len(pixels_bgr), 3))
    return header + body


def image_seed(channels, size, data):
    return bytes([1 if channels == 3 else 0, size - 1]) + data


grey4 = [[(x + 4 * y) * 16 for x in range(4)] for y in range(4)]
rgb4 = [[c for x in range(4) for c in (x * 60, y * 60, 255 - x * 60)] for y in range(4)]
rgba4 = [[c for x in range(4) for c in (x * 60, y * 60, 128, 255 if x else 0)] for y in range(4)]
flat_bgr = [c for row in rgb4 for c in row]
write("image", "grey_4x4.png", image_seed(1, 4, png(4, 4, 0, 8, grey4)))
write("image", "rgb_4x4_to_8.png", image_seed(3, 8, png(4, 4, 2, 8, rgb4)))
write("image", "rgba_4x4_to_2.png", image_seed(1, 2, png(4, 4, 6, 8, rgba4)))
write("image", "grey16_2x2.png", image_seed(1, 2, png(2, 2, 0, 16, [[0, 0, 255, 255], [128, 0, 0, 1]])))
write("image", "rgb_4x4.bmp", image_seed(3, 4, bmp(4, 4, flat_bgr)))
write("image", "grey_3x2.pgm", image_seed(1, 3, b"P5 3 2 255\n" + bytes([0, 50, 100, 150, 200, 250])))
write("image", "rgb_2x2.ppm", image_seed(3, 2, b"P6\n2 2\n255\n" + bytes(range(0, 240, 20))))
write("image", "rgb_4x4.tga", image_seed(3, 4, tga(4, 4, flat_bgr)))
write("image", "rgb_4x4_rle.tga", image_seed(1, 4, tga(4, 4, flat_bgr, rle=True)))
write("image", "rgb_1x1.hdr", image_seed(3, 1, b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n" + bytes([128, 64, 32, 129])))
write("image", "transparent_1x1.gif", image_seed(1, 2, bytes.fromhex(
    "4749463839610100010080000000ffffff00000021f90401000000002c00000000010001000002024401003b")))
write("image", "huge_claim.png", image_seed(1, 8, png(20000, 20000, 0, 8, [[0] * 4])))
write("image", "truncated.png", image_seed(1, 4, png(4, 4, 0, 8, grey4)[:40]))


def jpeg_overflowing_dc():
    """A 16 x 8 grey baseline JPEG whose second block's dequantized DC, -65534 * 65535, overflows int inside
    stb_image (the overflow CI's fuzz_image found; tests/test_images.cpp builds the same file)."""
    dqt = b"\xff\xdb" + struct.pack(">H", 131) + b"\x10" + b"\xff" * 128
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 16, 1) + bytes([1, 0x11, 0])
    one_code = bytes([1] + [0] * 15)  # one code of one bit
    dht = b"\xff\xc4" + struct.pack(">H", 38) + b"\x00" + one_code + bytes([15]) + b"\x10" + one_code + b"\x00"
    sos = b"\xff\xda" + struct.pack(">H", 8) + bytes([1, 1, 0x00, 0, 63, 0])
    return b"\xff\xd8" + dqt + sof + dht + sos + bytes([0, 0, 0, 0, 0x3F]) + b"\xff\xd9"


write("image", "jpeg_overflowing_dc.jpg", image_seed(1, 8, jpeg_overflowing_dc()))

# fuzz_config: every shipped config, one with --set overrides before it, and configs each wrong in one way.
configs = root.parent.parent / "configs"
for path in sorted(configs.rglob("*.json")):
    write("train_config", str(path.relative_to(configs)).replace("/", "_"), path.read_bytes())
write("train_config", "overrides.txt", "--set optimizer.name=sgd\n--set model.hidden=[8,8]\n--set regularizer="
      '[{"kind":"contractive","lambda":0.1}]\n{"model": {"code_dim": 2}, "training": {"epochs": 1}}')
write("train_config", "old_contractive_variant.json",
      '{"model": {"code_dim": 2}, "variant": {"kind": "contractive", "lambda": 0.1, "probes": 2}}')
write("train_config", "poisson_and_contractive.json", json.dumps({
    "model": {"code_dim": 2, "hidden": [16]}, "schedule": {"kind": "step", "step_size": 2},
    "regularizer": [{"kind": "poisson", "lambda": 1.0}, {"kind": "contractive", "lambda": 0.1,
                                                         "penalty": {"method": "hutchinson", "probes": 2}}]}))
write("train_config", "unknown_key.json", '{"model": {"code_dim": 2}, "variant": {"lamda": 1}}')
write("train_config", "conv_model.json", json.dumps({
    "data": {"name": "mnist"}, "model": {"code_dim": 8, "kind": "conv", "input_shape": [1, 28, 28]}}))

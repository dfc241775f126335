#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets: fuzz/corpus/idx/ and fuzz/corpus/json/ (small valid and broken
files, each named for what it is). Deterministic; rerun after changing it and commit the result."""
import gzip
import pathlib
import struct

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

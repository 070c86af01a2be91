#!/usr/bin/env python3
"""An independent reader and writer of the safetensors format, standard library only.

It checks rmad's TypeScript implementation against a second reading of the published layout:
an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON header, then the byte buffer
that the header's data_offsets index (relative to the buffer's start, covering it exactly).

    python3 scripts/safetensors_ref.py write OUT.safetensors   # a fixed set of test tensors
    python3 scripts/safetensors_ref.py read IN.safetensors     # validate, print a JSON summary

The writer deliberately differs from rmad's in the details the format leaves open: tensors are
written in insertion order (not sorted by name), so a reader that assumes sorted names fails.
"""

import json
import struct
import sys

FORMATS = {"F32": ("<f", 4), "F64": ("<d", 8)}

# The fixed test tensors: name -> (dtype, shape, flat values). Values are exact in float32.
TEST_TENSORS = {
    "matrix": ("F32", [2, 3], [1.5, -2.25, 3.0, 0.125, -0.0, 1024.5]),
    "vector": ("F64", [4], [0.1, -1e-300, 2.0 ** 60, 3.141592653589793]),
    "scalar": ("F32", [], [-7.75]),
}
TEST_METADATA = {"format": "pt", "writer": "safetensors_ref.py"}


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write(path):
    header = {"__metadata__": TEST_METADATA}
    chunks = []
    offset = 0
    for name, (dtype, shape, values) in TEST_TENSORS.items():
        fmt, size = FORMATS[dtype]
        data = b"".join(struct.pack(fmt, v) for v in values)
        assert len(data) == count(shape) * size
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


def nest(flat, shape):
    """Row-major flat values as nested lists of the given shape (a bare number for 0-d)."""
    if not shape:
        return flat[0]
    step = count(shape[1:])
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def fail(message):
    sys.stderr.write("invalid safetensors: " + message + "\n")
    sys.exit(1)


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail("shorter than the 8-byte length prefix")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        fail("header length %d exceeds the file" % n)
    try:
        text = raw[8:8 + n].decode("utf-8")
    except UnicodeDecodeError:
        fail("header is not UTF-8")
    if not text.startswith("{"):
        fail("header does not start with {")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            fail("duplicate key in header")
        return dict(pairs)

    header = json.loads(text, object_pairs_hook=no_duplicates)
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail("__metadata__ must map strings to strings")
    buffer = raw[8 + n:]

    spans = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("tensor %r has fields %s" % (name, sorted(info)))
        if info["dtype"] not in FORMATS:
            fail("tensor %r has unsupported dtype %s" % (name, info["dtype"]))
        begin, end = info["data_offsets"]
        size = FORMATS[info["dtype"]][1]
        if end - begin != count(info["shape"]) * size:
            fail("tensor %r byte length does not match its shape" % name)
        spans.append((begin, end, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            fail("tensor %r does not start where the previous one ends" % name)
        position = end
    if position != len(buffer):
        fail("buffer has %d bytes, tensors cover %d" % (len(buffer), position))

    tensors = {}
    for name in sorted(header):
        info = header[name]
        fmt, size = FORMATS[info["dtype"]]
        begin, end = info["data_offsets"]
        flat = [struct.unpack_from(fmt, buffer, begin + i * size)[0] for i in range(count(info["shape"]))]
        tensors[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": nest(flat, info["shape"])}
    # The order in the file, by offset, is part of what a test may want to compare.
    summary = {"header_length": n, "order": [name for _, _, name in spans], "tensors": tensors, "metadata": metadata}
    json.dump(summary, sys.stdout, indent=None, sort_keys=True)
    sys.stdout.write("\n")


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "read"):
        sys.stderr.write(__doc__)
        return 2
    (write if argv[1] == "write" else read)(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

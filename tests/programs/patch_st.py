#!/usr/bin/env python3
"""tests/programs/patch_st.py FILE TENSOR INDEX VALUE — overwrite one value of a tensor in a
safetensors file in place (F32, F64 or I64, as the tensor's dtype), the header untouched: a
checkpoint that is well-formed but holds a value no training writes (nan, inf, -1, 2**62)."""
import json
import struct
import sys

path, name, index, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(path, "r+b") as f:
    (hlen,) = struct.unpack("<Q", f.read(8))
    entry = json.loads(f.read(hlen))[name]
    fmt = {"F32": "<f", "F64": "<d", "I64": "<q"}[entry["dtype"]]
    size = struct.calcsize(fmt)
    begin, end = entry["data_offsets"]
    if not 0 <= index < (end - begin) // size:
        sys.exit(f"{name} has no index {index}")
    f.seek(8 + hlen + begin + index * size)
    f.write(struct.pack(fmt, int(value) if fmt == "<q" else float(value)))

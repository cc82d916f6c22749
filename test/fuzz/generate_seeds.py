"""Writes the seed corpora of the native fuzz targets (scripts/fuzz.sh; formats in native/fuzz/*.cc).

Run once: /usr/bin/python3 test/fuzz/generate_seeds.py. Crashers found later are added by hand
next to these seeds (named regression-*), never regenerated.
"""
import io
import os
import struct

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20)


def write(target, name, data):
    with open(os.path.join(HERE, 'corpus', target, name), 'wb') as f:
        f.write(data)


def jpeg(size, mode='RGB', exif_orientation=None, **save):
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], len(mode) if mode != 'L' else 1), dtype=np.uint8).squeeze(), mode)
    out = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        save['exif'] = exif.tobytes()
    image.save(out, 'JPEG', **save)
    return out.getvalue()


def jpeg_seed(name, shorter, flags, data):
    write('jpeg_decode', name, struct.pack('<HB', shorter - 1, flags) + data)


jpeg_seed('baseline-444', 7, 0, jpeg((17, 9), quality=90, subsampling=0))
jpeg_seed('baseline-420-fill', 12, 1, jpeg((13, 21), quality=75, subsampling=2))
jpeg_seed('progressive-422-exif6', 5, 0, jpeg((20, 12), exif_orientation=6, progressive=True, subsampling=1))
jpeg_seed('exif8-upscale', 40, 0, jpeg((9, 6), exif_orientation=8))
jpeg_seed('exif3-bicubic', 16, 1, jpeg((11, 7), exif_orientation=3))
jpeg_seed('gray', 3, 0, jpeg((10, 10), mode='L'))
jpeg_seed('cmyk-declined', 8, 0, jpeg((8, 8), mode='CMYK'))
jpeg_seed('limit-4096', 8, 2, jpeg((80, 60)))
truncated = jpeg((16, 16))
jpeg_seed('truncated', 8, 0, truncated[: len(truncated) // 2])
# A decompression bomb: a real 8x8 file whose SOF0 claims 65000 x 65000.
bomb = bytearray(jpeg((8, 8)))
sof = bomb.index(b'\xff\xc0')
bomb[sof + 5: sof + 9] = struct.pack('>HH', 65000, 65000)
jpeg_seed('bomb-65000', 100, 0, bytes(bomb))
jpeg_seed('not-a-jpeg', 8, 0, b'\x89PNG\r\n\x1a\n')


def entry(dtype, shape, offset, nbytes):
    out = struct.pack('<BB', dtype, len(shape))
    for d in shape:
        out += d.to_bytes(3, 'little')
    return out + struct.pack('<QQ', offset, nbytes)


F32, F16, BF16, F64, BAD = range(5)
payload = rng.standard_normal(24).astype('<f4').tobytes()
write('tensor_file', 'f32-2x3', b'\x01' + entry(F32, [2, 3], 0, 24) + payload)
write('tensor_file', 'three-dtypes', b'\x03' + entry(F16, [4], 0, 8) + entry(BF16, [2, 2], 8, 8) + entry(F64, [], 16, 8) + payload)
write('tensor_file', 'scalar-and-empty', b'\x02' + entry(F32, [], 4, 4) + entry(F32, [0, 5], 0, 0) + payload)
write('tensor_file', 'cut-short', b'\x01' + entry(F32, [8, 8], 0, 256) + payload)
write('tensor_file', 'nbytes-mismatch', b'\x01' + entry(F64, [3], 0, 20) + payload)
write('tensor_file', 'negative-dim', b'\x01' + entry(F32, [0x800003], 0, 0) + payload)
write('tensor_file', 'bad-dtype', b'\x01' + entry(BAD, [2], 0, 16) + payload)
# 2^40 floats (4 TiB) with the matching byte count in a 100-byte file: refused before allocating.
write('tensor_file', 'huge-claim', b'\x01' + entry(F32, [0x100000, 0x100000], 0, 4 << 40) + payload)
# A shape whose element count overflows int64.
write('tensor_file', 'overflowing-shape', b'\x01' + entry(F32, [0x800100, 0x800001], 0, 0) + payload)


def batch(dims, extra, crops, flips, crop_size, rest):
    out = b''.join(struct.pack('<H', d) for d in dims)
    out += struct.pack('<bBBb', extra, len(crops), len(flips), crop_size)
    out += b''.join(struct.pack('<h', c) for c in crops)
    return out + bytes(flips) + rest


pixels = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
write('image_batch', 'two-images', batch([2, 6, 5, 3], 0, [0, 0, 2, 1], [0, 1], 4, pixels))
write('image_batch', 'one-image-center', batch([1, 8, 8, 3], 0, [2, 2], [1], 4, pixels))
write('image_batch', 'crop-outside', batch([1, 4, 4, 3], 0, [1, 1], [0], 4, pixels))
write('image_batch', 'short-pixels', batch([1, 4, 4, 3], -3, [0, 0], [0], 2, pixels))
write('image_batch', 'overflowing-shape', batch([1, 0x8000 | 0x4000, 4, 3], 0, [0, 0], [0], 1, pixels))
write('image_batch', 'four-channels', batch([1, 4, 4, 4], 0, [0, 0], [0], 2, pixels))

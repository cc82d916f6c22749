// image_resample.h — torchvision's Resize on a PIL image, in C++: Pillow's antialiased bilinear
// and bicubic resampling (src/libImaging/Resample.c, `Image.resize(size, BILINEAR | BICUBIC)`)
// reproduced operation for operation, so the pixels equal Pillow's bit for bit.
//
//   src (h, w, 3) uint8 RGB -> horizontal pass (h', ow, 3) uint8 -> vertical pass (oh, ow, 3) uint8
//
// Each pass is a triangle filter (bicubic: Keys' cubic, a = -0.5, support 2) widened by the scale when shrinking
// (antialiasing), with weights normalized per output pixel and rounded to 22-bit fixed point, as Pillow does; h' is
// only the source rows the vertical pass reads.
#pragma once

#include <cstdint>

namespace vpt {

// Resizes `src` (height x width RGB, row-major) to `dst` (out_height x out_width RGB).
void resize_bilinear_like_pil(const uint8_t* src, int width, int height, uint8_t* dst, int out_width, int out_height);

// The same with Pillow's BICUBIC filter (torchvision's interpolation=BICUBIC on a PIL image).
void resize_bicubic_like_pil(const uint8_t* src, int width, int height, uint8_t* dst, int out_width, int out_height);

}  // namespace vpt

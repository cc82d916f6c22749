// image_decode_wrap.h — the JS face of jpeg_decode.h.
//
//   decodeJpegFile({ path: string, shorter: number })
//     : Promise<{ pixels: Uint8Array, width, height } | { file: Uint8Array, declined: string }>
//
// The request arrives validated from TypeScript (lib/data/decode-image.ts). Reading, decoding
// and resizing run in one job on the libuv thread pool; the pixels reach JS without a copy.
// A JPEG the decoder leaves to sharp comes back as the file's bytes, so it is read once.
// Registered only in builds with libjpeg (VPT_HAVE_LIBJPEG); otherwise the addon has no
// `decodeJpegFile` and the TypeScript side uses sharp.
#pragma once

#include <napi.h>

namespace vpt {

void RegisterImageDecode(Napi::Env env, Napi::Object exports);

}  // namespace vpt

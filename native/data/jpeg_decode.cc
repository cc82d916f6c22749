// jpeg_decode.cc — see jpeg_decode.h.
#include "data/jpeg_decode.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstring>
#include <limits>

// jpeglib.h needs <cstdio> before it, and jerror.h needs jpeglib.h before it.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "data/image_resample.h"

namespace vpt {

namespace {

constexpr uint16_t kOrientationTag = 0x0112;

struct File {
  int fd;
  ~File() { ::close(fd); }
};

// The whole file; the reasons match lib/data/decode-image.ts's for sharp's path.
std::vector<uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(kErrData, errno == ENOENT ? "file not found" : std::strerror(errno));
  File file{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(kErrData, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(kErrData, "a folder, not a file");
  if (st.st_size == 0) throw Error(kErrData, "empty file (0 bytes)");
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(kErrData, std::strerror(errno));
    if (n == 0) break;  // the file shrank while being read: decode what is there
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

// libjpeg reports errors through a callback that must not return; it jumps back to the
// setjmp of the phase that called libjpeg, with the message kept here.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Level -1 is a warning. Input running out (JWRN_JPEG_EOF: a truncated file, whose missing
// part libjpeg would fill in with grey) is an error. The others (stray bytes before a marker,
// a bad Huffman code, a scan cut short by a marker) are counted and decoding goes on, as in
// Pillow, which leaves them to libjpeg's default. Levels >= 0 are trace messages.
void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
  cinfo->err->num_warnings++;
}

// Called by libjpeg as it reads: stops a progressive file with more than kMaxJpegScans scans.
void on_progress(j_common_ptr cinfo) {
  if (cinfo->is_decompressor == 0) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->progressive_mode && d->input_scan_number > kMaxJpegScans) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message), "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

// Everything libjpeg touches lives here, outside the frames that call setjmp, so a longjmp
// loses nothing and the destructor always releases libjpeg's memory.
struct Decoder {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  jpeg_progress_mgr progress{};

  Decoder() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    progress.progress_monitor = on_progress;
  }
  ~Decoder() { jpeg_destroy_decompress(&cinfo); }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
};

// Reads the markers up to the first scan, keeping APP1 (EXIF). False leaves libjpeg's message
// in d.err.message.
bool read_header(Decoder& d, const std::vector<uint8_t>& file) {
  jpeg_decompress_struct& c = d.cinfo;
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&c);
  c.progress = &d.progress;
  jpeg_mem_src(&c, file.data(), static_cast<unsigned long>(file.size()));
  jpeg_save_markers(&c, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&c, TRUE);
  return true;
}

// Decodes the stored image as RGB into `out` (image_height x image_width x 3). False leaves
// libjpeg's message in d.err.message.
bool read_pixels(Decoder& d, uint8_t* const out) {
  jpeg_decompress_struct& c = d.cinfo;
  if (setjmp(d.err.jump)) return false;
  // libjpeg's defaults, spelled out: Pillow decodes with them, and the pixels depend on them.
  c.out_color_space = JCS_RGB;
  c.dct_method = JDCT_ISLOW;
  c.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&c);
  const size_t row_bytes = static_cast<size_t>(c.output_width) * 3;
  JSAMPROW rows[16];
  while (c.output_scanline < c.output_height) {
    const JDIMENSION n = std::min<JDIMENSION>(16, c.output_height - c.output_scanline);
    for (JDIMENSION i = 0; i < n; ++i) rows[i] = out + (c.output_scanline + i) * row_bytes;
    jpeg_read_scanlines(&c, rows, n);
  }
  jpeg_finish_decompress(&c);
  return true;
}

// Tag 0x0112 of IFD0 of the TIFF block in an APP1 "Exif\0\0" segment; 1 when absent,
// malformed or not 1..8.
int exif_orientation(const uint8_t* tiff, size_t size) {
  if (size < 8 || !((tiff[0] == 'I' && tiff[1] == 'I') || (tiff[0] == 'M' && tiff[1] == 'M'))) return 1;
  const bool little = tiff[0] == 'I';
  auto u16 = [&](size_t at) { return little ? tiff[at] | tiff[at + 1] << 8 : tiff[at] << 8 | tiff[at + 1]; };
  auto u32 = [&](size_t at) -> uint32_t {
    const uint32_t a = u16(at), b = u16(at + 2);
    return little ? a | b << 16 : a << 16 | b;
  };
  const size_t ifd = u32(4);
  if (ifd + 2 > size) return 1;
  const int entries = u16(ifd);
  for (int i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * static_cast<size_t>(i);
    if (entry + 12 > size) return 1;
    if (u16(entry) != kOrientationTag) continue;
    const int value = u16(entry + 8);
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

// The EXIF orientation of the first APP1 segment that holds EXIF, as Pillow and libvips read it.
int orientation_of(const jpeg_decompress_struct& c) {
  static constexpr char kSignature[] = "Exif\0";  // 6 bytes with the implicit terminator
  for (jpeg_saved_marker_ptr m = c.marker_list; m; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < sizeof(kSignature)) continue;
    if (std::memcmp(m->data, kSignature, sizeof(kSignature)) != 0) continue;
    return exif_orientation(m->data + sizeof(kSignature), m->data_length - sizeof(kSignature));
  }
  return 1;
}

// EXIF orientation 1..8 -> where upright pixel (x, y) is stored: start + x * step_x + y * step_y
// (in pixels of the width x height stored image). 5..8 swap width and height.
struct Walk {
  long start, step_x, step_y;
};

Walk orientation_walk(int orientation, long width, long height) {
  const long last_row = (height - 1) * width, last_col = width - 1;
  switch (orientation) {
    case 2:
      return {last_col, -1, width};  // mirrored
    case 3:
      return {last_row + last_col, -1, -width};  // rotated 180
    case 4:
      return {last_row, 1, -width};  // flipped vertically
    case 5:
      return {0, width, 1};  // transposed
    case 6:
      return {last_row, -width, 1};  // rotate 90 clockwise to display
    case 7:
      return {last_row + last_col, -width, -1};  // transversed
    case 8:
      return {last_col, width, -1};  // rotate 90 counter-clockwise to display
    default:
      return {0, 1, width};
  }
}

// (height, width, 3) stored -> the upright image (swapped sides for orientations 5..8).
void orient(const uint8_t* stored, int width, int height, int orientation, uint8_t* upright) {
  const bool swap = orientation >= 5;
  const int out_width = swap ? height : width, out_height = swap ? width : height;
  const Walk w = orientation_walk(orientation, width, height);
  for (int y = 0; y < out_height; ++y) {
    long at = w.start + y * w.step_y;
    uint8_t* out = upright + static_cast<size_t>(y) * out_width * 3;
    for (int x = 0; x < out_width; ++x, at += w.step_x) {
      out[3 * x] = stored[3 * at];
      out[3 * x + 1] = stored[3 * at + 1];
      out[3 * x + 2] = stored[3 * at + 2];
    }
  }
}

// torchvision's Resize(shorter) output size (lib/data/vpt-transforms.ts resizedSize), in 64 bits:
// a long thin image resized to a large `shorter` can exceed any int.
void resized_size(int64_t width, int64_t height, int64_t shorter, int64_t& out_width, int64_t& out_height) {
  out_width = width;
  out_height = height;
  if (width <= height && width != shorter) {
    out_width = shorter;
    out_height = shorter * height / width;
  } else if (width > height && height != shorter) {
    out_width = shorter * width / height;
    out_height = shorter;
  }
}

[[noreturn]] void too_large(const std::string& what, int64_t width, int64_t height, uint64_t max_pixels) {
  throw Error(kErrImageTooLarge, what + " " + std::to_string(width) + "x" + std::to_string(height) + " (" +
                                     std::to_string(static_cast<uint64_t>(width) * static_cast<uint64_t>(height)) +
                                     " pixels) is over the limit of " + std::to_string(max_pixels) + " pixels");
}

}  // namespace

JpegDecodeResult decode_jpeg_file(const std::string& path, int shorter, JpegResize mode, uint64_t max_pixels) {
  return decode_jpeg_bytes(read_file(path), shorter, mode, max_pixels);
}

JpegDecodeResult decode_jpeg_bytes(std::vector<uint8_t> file, int shorter, JpegResize mode, uint64_t max_pixels) {
  JpegDecodeResult r;
  r.file = std::move(file);
  if (r.file.size() < 2 || r.file[0] != 0xFF || r.file[1] != 0xD8) {
    r.declined = "not a JPEG";
    return r;
  }
  Decoder d;
  if (!read_header(d, r.file)) {
    r.declined = d.err.message;
    return r;
  }
  const jpeg_decompress_struct& c = d.cinfo;
  if (c.jpeg_color_space != JCS_GRAYSCALE && c.jpeg_color_space != JCS_YCbCr && c.jpeg_color_space != JCS_RGB) {
    r.declined = "its colour space is not grayscale, YCbCr or RGB";
    return r;
  }
  // libjpeg-turbo 3 reads 12-bit and lossless headers, then fails on the 8-bit scanline API.
  if (c.data_precision != 8) {
    r.declined = std::to_string(c.data_precision) + "-bit samples";
    return r;
  }
  // The header's claim, checked before libjpeg or this function allocates anything of the
  // image's size: a few hundred bytes can claim 65500 x 65500 pixels (a decompression bomb).
  // JPEG sides are at most 65535, so the products below fit in 64 bits.
  const int64_t width = c.image_width, height = c.image_height;
  if (static_cast<uint64_t>(width * height) > max_pixels) too_large("the image is", width, height, max_pixels);
  const int orientation = orientation_of(c);
  const bool oriented = orientation != 1, swap = orientation >= 5;
  const int64_t upright_width = swap ? height : width, upright_height = swap ? width : height;
  int64_t out_width = shorter, out_height = shorter;
  if (mode == JpegResize::kShorterSide) resized_size(upright_width, upright_height, shorter, out_width, out_height);
  if (static_cast<uint64_t>(out_width) * static_cast<uint64_t>(out_height) > max_pixels ||
      out_width > std::numeric_limits<int>::max() || out_height > std::numeric_limits<int>::max()) {
    too_large("resized to " + std::to_string(shorter) + ", the image would be", out_width, out_height, max_pixels);
  }
  r.width = static_cast<int>(out_width);
  r.height = static_cast<int>(out_height);
  const bool resize = r.width != upright_width || r.height != upright_height;

  r.pixels.resize(static_cast<size_t>(r.width) * r.height * 3);
  std::vector<uint8_t> stored;
  if (oriented || resize) stored.resize(static_cast<size_t>(width) * height * 3);
  if (!read_pixels(d, oriented || resize ? stored.data() : r.pixels.data())) {
    throw Error(kErrData, std::string("cannot decode (") + d.err.message + ")");
  }
  r.decoded = true;
  r.file = {};
  if (!oriented && !resize) return r;
  if (oriented) {
    std::vector<uint8_t> upright(stored.size());
    orient(stored.data(), static_cast<int>(width), static_cast<int>(height), orientation,
           resize ? upright.data() : r.pixels.data());
    if (!resize) return r;
    stored.swap(upright);
  }
  const int w = static_cast<int>(upright_width), h = static_cast<int>(upright_height);
  if (mode == JpegResize::kFill) {
    resize_bicubic_like_pil(stored.data(), w, h, r.pixels.data(), r.width, r.height);
  } else {
    resize_bilinear_like_pil(stored.data(), w, h, r.pixels.data(), r.width, r.height);
  }
  return r;
}

}  // namespace vpt

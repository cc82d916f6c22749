// errors.h — coded errors that cross into JavaScript as `Error` objects with a stable `code`.
#pragma once

#include <stdexcept>
#include <string>

namespace vpt {

// Stable codes, each also in lib/errors.ts (ErrorCode), where they are documented;
// test/errors.test.ts fails when a code here or any "VPT_*" literal in native/ is missing there.
inline constexpr const char* kErrWeights = "VPT_WEIGHTS";          // missing / unexpected / bad tensors
inline constexpr const char* kErrShape = "VPT_SHAPE";              // a tensor or input of the wrong shape
inline constexpr const char* kErrDevice = "VPT_DEVICE";            // unknown or unavailable device
inline constexpr const char* kErrOom = "VPT_OOM";                  // out of (device) memory
inline constexpr const char* kErrIo = "VPT_IO";                    // file could not be read
inline constexpr const char* kErrDisposed = "VPT_DISPOSED";        // the model was disposed
inline constexpr const char* kErrArgument = "VPT_ARGUMENT";        // a malformed argument from JS
inline constexpr const char* kErrOption = "VPT_OPTION";            // a well-formed value out of its range (a label)
inline constexpr const char* kErrNonFinite = "VPT_NONFINITE";      // training diverged
inline constexpr const char* kErrDistributed = "VPT_DISTRIBUTED";  // rendezvous or collective failed
inline constexpr const char* kErrData = "VPT_DATA";                // a missing, unreadable, corrupt or truncated image
inline constexpr const char* kErrImageTooLarge = "VPT_TOOLARGE";   // an image over the pixel limit (a bomb?)
inline constexpr const char* kErrTorch = "VPT_TORCH";              // any other LibTorch error
inline constexpr const char* kErrNative = "VPT_NATIVE";            // any other C++ exception

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct ErrorInfo {
  std::string code;
  std::string message;
};

// Describes the exception being handled; call only inside a catch block.
ErrorInfo describe_current_exception();

}  // namespace vpt

// fit_report.h — collects the missing, mis-shaped and unexpected tensors of a checkpoint
// against a model and reports them all in one error, so users fix a file in one pass.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace vpt {

struct FitReport {
  std::vector<std::string> missing, misshaped, unexpected;

  // Throws Error(code, headline + one line per non-empty category) when anything was found.
  void throw_if_any(const char* code, const std::string& headline) const {
    if (missing.empty() && misshaped.empty() && unexpected.empty()) return;
    std::ostringstream msg;
    msg << headline;
    append(msg, "missing", missing);
    append(msg, "wrong shape", misshaped);
    append(msg, "unexpected", unexpected);
    throw Error(code, msg.str());
  }

 private:
  static constexpr size_t kMaxListed = 12;  // per category, in one error message

  static void append(std::ostringstream& msg, const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    msg << "\n  " << title << " (" << items.size() << "): ";
    for (size_t i = 0; i < items.size() && i < kMaxListed; ++i) msg << (i ? ", " : "") << items[i];
    if (items.size() > kMaxListed) msg << ", ...";
  }
};

}  // namespace vpt

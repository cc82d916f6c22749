// errors.cc — maps every exception a native call can raise to a (code, message) pair.
#include "runtime/errors.h"

#include <c10/util/Exception.h>

#include "runtime/compat.h"

namespace vpt {

ErrorInfo describe_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const c10::OutOfMemoryError& e) {
    return {kErrOom, compat::message_without_backtrace(e)};
  } catch (const c10::DistError& e) {
    return {kErrDistributed, compat::message_without_backtrace(e)};
  } catch (const c10::Error& e) {
    return {kErrTorch, compat::message_without_backtrace(e)};
  } catch (const std::bad_alloc&) {
    return {kErrOom, "out of host memory"};
  } catch (const std::exception& e) {
    return {kErrNative, e.what()};
  } catch (...) {
    return {kErrNative, "unknown native exception"};
  }
}

}  // namespace vpt

# Finds LibTorch for the addon, in the documented order, and explains itself.
#   1. LIBTORCH      a LibTorch root (include/, lib/, share/cmake/Torch), env or -D
#   2. Torch_DIR     a directory holding TorchConfig.cmake, env or -D
#   3. Python torch  the package root of an importable `torch` (never share/cmake alone,
#                    so a system libtorch.so cannot be mixed in)
#   4. system        whatever find_package(Torch) finds on the default prefixes
# Sets VPT_TORCH_ROOT, VPT_TORCH_SOURCE, Torch_VERSION and VPT_WITH_CUDA.

set(VPT_MIN_TORCH_VERSION "2.4.0")

set(_vpt_torch_help
"How to get a LibTorch:
  * CPU:  python3 -m pip install --target .deps/torch-cpu \"torch==2.13.0+cpu\" --index-url https://download.pytorch.org/whl/cpu
          then LIBTORCH=$PWD/.deps/torch-cpu/torch npm rebuild vpt-native
  * CUDA: python3 -m pip install torch   (a CUDA wheel), then npm rebuild vpt-native
  * or unpack a LibTorch archive (https://pytorch.org) and set LIBTORCH=/path/to/libtorch")

function(_vpt_check_root root out)
  if(EXISTS "${root}/share/cmake/Torch/TorchConfig.cmake" AND EXISTS "${root}/include/torch")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

set(VPT_TORCH_ROOT "")
set(VPT_TORCH_SOURCE "")

if(NOT LIBTORCH AND DEFINED ENV{LIBTORCH})
  set(LIBTORCH "$ENV{LIBTORCH}")
endif()
if(NOT Torch_DIR AND DEFINED ENV{Torch_DIR})
  set(Torch_DIR "$ENV{Torch_DIR}")
endif()

if(LIBTORCH)
  get_filename_component(_root "${LIBTORCH}" ABSOLUTE)
  _vpt_check_root("${_root}" _ok)
  if(NOT _ok)
    message(FATAL_ERROR "vpt-native: LIBTORCH=${LIBTORCH} is not a LibTorch root "
      "(expected include/torch and share/cmake/Torch/TorchConfig.cmake inside).\n${_vpt_torch_help}")
  endif()
  set(VPT_TORCH_ROOT "${_root}")
  set(VPT_TORCH_SOURCE "LIBTORCH")
elseif(Torch_DIR)
  get_filename_component(_dir "${Torch_DIR}" ABSOLUTE)
  if(NOT EXISTS "${_dir}/TorchConfig.cmake")
    message(FATAL_ERROR "vpt-native: Torch_DIR=${Torch_DIR} holds no TorchConfig.cmake.\n${_vpt_torch_help}")
  endif()
  get_filename_component(VPT_TORCH_ROOT "${_dir}/../../.." ABSOLUTE)
  set(VPT_TORCH_SOURCE "Torch_DIR")
else()
  find_program(_vpt_python NAMES python3 python)
  if(_vpt_python)
    execute_process(
      COMMAND "${_vpt_python}" -c "import os, torch; print(os.path.dirname(torch.__file__))"
      OUTPUT_VARIABLE _py_root OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _py_rc ERROR_QUIET)
    if(_py_rc EQUAL 0 AND _py_root)
      _vpt_check_root("${_py_root}" _ok)
      if(_ok)
        set(VPT_TORCH_ROOT "${_py_root}")
        set(VPT_TORCH_SOURCE "python torch (${_vpt_python})")
      endif()
    endif()
  endif()
endif()

if(VPT_TORCH_ROOT)
  # Only this root: TorchConfig's own find_package(Caffe2) would otherwise search the system
  # prefixes first and mix a system libtorch (e.g. Debian's 1.13) into the link.
  set(Caffe2_DIR "${VPT_TORCH_ROOT}/share/cmake/Caffe2" CACHE PATH "" FORCE)
  list(PREPEND CMAKE_PREFIX_PATH "${VPT_TORCH_ROOT}")
  find_package(Torch CONFIG QUIET PATHS "${VPT_TORCH_ROOT}/share/cmake/Torch" NO_DEFAULT_PATH)
else()
  find_package(Torch CONFIG QUIET)
  if(Torch_FOUND)
    get_filename_component(VPT_TORCH_ROOT "${Torch_DIR}/../../.." ABSOLUTE)
    set(VPT_TORCH_SOURCE "system")
  endif()
endif()

if(NOT Torch_FOUND)
  message(FATAL_ERROR "vpt-native: no LibTorch found (tried LIBTORCH, Torch_DIR, python3 -c 'import torch', "
    "system prefixes).\n${_vpt_torch_help}")
endif()
if(Torch_VERSION VERSION_LESS VPT_MIN_TORCH_VERSION)
  message(FATAL_ERROR "vpt-native: LibTorch ${Torch_VERSION} at ${VPT_TORCH_ROOT} is too old; "
    "vpt-native needs >= ${VPT_MIN_TORCH_VERSION}.\n${_vpt_torch_help}")
endif()

if(CAFFE2_USE_CUDA OR TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(VPT_WITH_CUDA ON)
  set(_flavor "CUDA")
else()
  set(VPT_WITH_CUDA OFF)
  set(_flavor "CPU")
endif()
message(STATUS "vpt-native: LibTorch ${Torch_VERSION} (${_flavor}) from ${VPT_TORCH_SOURCE}: ${VPT_TORCH_ROOT}")

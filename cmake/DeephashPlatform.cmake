# Shared settings for every native library of deephash.
#
# DEEPHASH_PLATFORM names the jar folder a library goes to: <os>-<arch>, matching what the Java
# loader computes from os.name / os.arch (linux-x86_64, linux-aarch64, macos-aarch64, windows-x86_64).
# deephash_native_library(<target>) applies the common flags and the output folder.

string(TOLOWER "${CMAKE_SYSTEM_NAME}" _dh_os)
if(_dh_os STREQUAL "darwin")
  set(_dh_os macos)
endif()
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _dh_arch)
if(_dh_arch MATCHES "^(x86_64|amd64|x64)$")
  set(_dh_arch x86_64)
  set(DEEPHASH_X86 ON)
elseif(_dh_arch MATCHES "^(aarch64|arm64)$")
  set(_dh_arch aarch64)
  set(DEEPHASH_X86 OFF)
else()
  set(DEEPHASH_X86 OFF)
endif()
set(DEEPHASH_PLATFORM "${_dh_os}-${_dh_arch}")
message(STATUS "deephash platform: ${DEEPHASH_PLATFORM}")

function(deephash_native_library target)
  set_target_properties(${target} PROPERTIES
      C_STANDARD 11
      C_STANDARD_REQUIRED ON
      C_VISIBILITY_PRESET hidden
      POSITION_INDEPENDENT_CODE ON)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -O3 -Wall -Wextra -Wno-unused-parameter)
  endif()
  if(DEEPHASH_OUTPUT_DIR)
    set(_dir "${DEEPHASH_OUTPUT_DIR}/native/${DEEPHASH_PLATFORM}")
    set_target_properties(${target} PROPERTIES
        LIBRARY_OUTPUT_DIRECTORY "${_dir}"
        RUNTIME_OUTPUT_DIRECTORY "${_dir}")
  endif()
endfunction()

# How the third-party libraries are linked, as opsktl::* targets.
#
# Everyday builds link Debian's shared libraries (fast to build). With OPSKTL_PORTABLE
# the binary's only dynamic dependencies are glibc's, so it can be copied onto any
# x86_64 Linux server with a recent enough glibc:
#   - fmt and spdlog are compiled in header-only (Debian ships no static archives);
#   - RE2, zlib and xxHash are linked from their static archives;
#   - libstdc++ and libgcc are linked statically;
#   - link-time optimisation is on when the toolchain supports it, and the binary is
#     stripped.

add_library(opsktl::fmt INTERFACE IMPORTED)
add_library(opsktl::spdlog INTERFACE IMPORTED)
add_library(opsktl::zlib INTERFACE IMPORTED)
add_library(opsktl::xxhash INTERFACE IMPORTED)
add_library(opsktl::re2 INTERFACE IMPORTED)

if(NOT OPSKTL_PORTABLE)
  target_link_libraries(opsktl::fmt INTERFACE fmt::fmt)
  target_link_libraries(opsktl::spdlog INTERFACE spdlog::spdlog)
  target_link_libraries(opsktl::zlib INTERFACE ZLIB::ZLIB)
  target_link_libraries(opsktl::xxhash INTERFACE PkgConfig::XXHASH)
  target_link_libraries(opsktl::re2 INTERFACE PkgConfig::RE2)
  return()
endif()

function(opsktl_static_archive out name)
  find_library(${out} NAMES lib${name}.a REQUIRED NO_CACHE)
  message(STATUS "opsktl portable: static ${name}: ${${out}}")
  set(${out} ${${out}} PARENT_SCOPE)
endfunction()

# Header-only fmt and spdlog. Debian's spdlog is configured for an external fmt
# (SPDLOG_FMT_EXTERNAL in its tweakme.h); without SPDLOG_COMPILED_LIB it is header-only.
target_link_libraries(opsktl::fmt INTERFACE fmt::fmt-header-only)
target_compile_definitions(opsktl::spdlog INTERFACE SPDLOG_FMT_EXTERNAL)
target_link_libraries(opsktl::spdlog INTERFACE fmt::fmt-header-only Threads::Threads)

opsktl_static_archive(OPSKTL_ZLIB_A z)
target_include_directories(opsktl::zlib INTERFACE ${ZLIB_INCLUDE_DIRS})
target_link_libraries(opsktl::zlib INTERFACE ${OPSKTL_ZLIB_A})

opsktl_static_archive(OPSKTL_XXHASH_A xxhash)
target_include_directories(opsktl::xxhash INTERFACE ${XXHASH_INCLUDE_DIRS})
target_link_libraries(opsktl::xxhash INTERFACE ${OPSKTL_XXHASH_A})

opsktl_static_archive(OPSKTL_RE2_A re2)
target_include_directories(opsktl::re2 INTERFACE ${RE2_INCLUDE_DIRS})
target_link_libraries(opsktl::re2 INTERFACE ${OPSKTL_RE2_A} Threads::Threads)

add_link_options(-static-libstdc++ -static-libgcc -s)

include(CheckIPOSupported)
check_ipo_supported(RESULT OPSKTL_IPO_OK OUTPUT OPSKTL_IPO_MESSAGE LANGUAGES CXX)
if(OPSKTL_IPO_OK)
  set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
else()
  message(STATUS "opsktl portable: no link-time optimisation: ${OPSKTL_IPO_MESSAGE}")
endif()

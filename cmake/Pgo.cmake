# Profile-guided optimization (GCC) of the per-line code, for Release builds.
#
# The per-line path is branchy (JSON scanning, rule dispatch, bucket search),
# and GCC lays it out far better knowing which branches a real log takes: the
# whole `--once` run is about 10 % faster (docs/performance.md). So a Release
# build first builds an instrumented exporter in <build>/pgo/build (this same
# project, configured with LLE_PGO_GENERATE), runs it on lle_sample_log's
# output (JSON request lines) and on the real servers' lines of the golden
# tests (tests/golden/server_*: stock vLLM, TGI, SGLang, ... text), and
# compiles the pipeline's libraries with the profile it wrote. A path the
# training never takes is laid out as cold (out-of-line calls, code for
# size): trained on JSON only, the text rules ran 20-40 % slower.
#
# -DLLE_PGO=OFF skips all of it; other build types, Clang and sanitizer builds
# never use it. The profile is rebuilt whenever the instrumented build changes,
# and every object that uses it is recompiled then.

option(LLE_PGO "Release builds with GCC: optimize with a profile of a training run" ON)
set(LLE_PGO_GENERATE "" CACHE PATH "Internal (the instrumented build): write the profile here")
set(LLE_PGO_TRAINING_LINES 200000 CACHE STRING "Lines of lle_sample_log the training run reads")
set(LLE_PGO_TRAINING_TEXT_COPIES 300 CACHE STRING
    "Times the training run reads the golden tests' server lines")

# Compiles `targets` instrumented (LLE_PGO_GENERATE) or with the profile, as
# this build calls for; nothing otherwise.
function(lle_pgo)
  set(targets ${ARGN})
  # Profiles are named after object paths relative to each build's own tree,
  # so the two builds' names match.
  set(prefix -fprofile-prefix-path=${CMAKE_BINARY_DIR})
  if(LLE_PGO_GENERATE)
    foreach(t ${targets})
      # atomic: the workers update the counters from several threads.
      target_compile_options(${t} PRIVATE -fprofile-generate=${LLE_PGO_GENERATE}
                             -fprofile-update=atomic ${prefix})
      target_link_options(${t} INTERFACE -fprofile-generate)  # whoever links it needs libgcov
    endforeach()
    return()
  endif()
  if(NOT LLE_PGO OR NOT CMAKE_BUILD_TYPE STREQUAL "Release" OR LLE_SANITIZE OR LLE_TSAN OR LLE_FUZZ
     OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    return()
  endif()

  include(ExternalProject)
  set(dir ${CMAKE_BINARY_DIR}/pgo)
  set(instrumented ${dir}/build/llm_log_exporter)
  ExternalProject_Add(lle_pgo_instrumented
    SOURCE_DIR ${CMAKE_SOURCE_DIR}
    BINARY_DIR ${dir}/build
    # The same compiler and flags: a function compiled differently there has
    # a profile that does not match (GCC then ignores it, with a warning).
    CMAKE_ARGS -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
               -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} -DLLE_SIMD=${LLE_SIMD}
               "-DCMAKE_CXX_FLAGS=${CMAKE_CXX_FLAGS}" "-DCMAKE_C_FLAGS=${CMAKE_C_FLAGS}"
               "-DCMAKE_CXX_FLAGS_RELEASE=${CMAKE_CXX_FLAGS_RELEASE}"
               -DLLE_BUILD_TESTS=OFF -DLLE_BUILD_BENCH=OFF -DLLE_PGO=OFF
               -DLLE_PGO_GENERATE=${dir}/profile
    # The default build command shares make's job slots; without tests and
    # benchmarks that is the exporter and two small tools.
    BUILD_ALWAYS ON  # its own build decides what is out of date
    BUILD_BYPRODUCTS ${instrumented}
    INSTALL_COMMAND "")
  set(stamp ${dir}/profile.stamp)
  file(GLOB text_files ${CMAKE_SOURCE_DIR}/tests/golden/server_*/input.log)
  set(quoted ${text_files})
  list(TRANSFORM quoted REPLACE "(.+)" "'\\1'")
  list(JOIN quoted " " text)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${dir}/profile
    # A build host that cannot run the binary (e.g. no AVX2 for LLE_SIMD=haswell)
    # still builds it, without a profile.
    COMMAND sh -c "{ '$<TARGET_FILE:lle_sample_log>' ${LLE_PGO_TRAINING_LINES} | '${instrumented}' --once > /dev/null && for i in $(seq ${LLE_PGO_TRAINING_TEXT_COPIES}); do cat ${text}; done | '${instrumented}' --once > /dev/null; } || { echo 'lle_pgo: the training run failed; building without a profile' >&2; rm -rf '${dir}/profile'; }"
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS lle_pgo_instrumented ${instrumented} lle_sample_log ${text_files}
    COMMENT "Training runs for profile-guided optimization (${LLE_PGO_TRAINING_LINES} JSON lines, server lines x ${LLE_PGO_TRAINING_TEXT_COPIES})"
    VERBATIM)
  add_custom_target(lle_pgo_profile DEPENDS ${stamp})
  foreach(t ${targets})
    add_dependencies(${t} lle_pgo_profile)
    target_compile_options(${t} PRIVATE -fprofile-use=${dir}/profile -fprofile-partial-training
                           ${prefix} -Wno-missing-profile -Wno-error=coverage-mismatch)
    get_target_property(sources ${t} SOURCES)
    set_property(SOURCE ${sources} TARGET_DIRECTORY ${t} APPEND PROPERTY OBJECT_DEPENDS ${stamp})
  endforeach()
  message(STATUS "Profile-guided optimization: on (-DLLE_PGO=OFF to build without)")
endfunction()

# -DLLE_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer for every
# target of this project, aborting on the first UB report so tests fail on it.
if(LLE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Tests that measure memory (RSS, an address-space limit) cannot under a
# sanitizer, which maps terabytes of shadow and keeps freed memory for a while:
# they check what they can and say so.
if(LLE_SANITIZE OR LLE_TSAN)
  add_compile_definitions(LLE_SANITIZED_BUILD=1)
endif()

# -DLLE_TSAN=ON: ThreadSanitizer for every target of this project (the shards,
# the reload gate, the chunk queue, the HTTP ingest pool). Debian's libraries
# (civetweb, prometheus-cpp, ...) are not instrumented; their own races are not
# seen, and tests/tsan.supp silences only reports inside them.
if(LLE_TSAN)
  if(LLE_SANITIZE OR LLE_FUZZ)
    message(FATAL_ERROR "LLE_TSAN cannot be combined with LLE_SANITIZE or LLE_FUZZ")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# -DLLE_FUZZ=ON (with CMAKE_CXX_COMPILER=clang++): the stage libraries are
# instrumented for libFuzzer's coverage and checked by ASan+UBSan; each target
# of tests/fuzz links the libFuzzer driver itself (-fsanitize=fuzzer).
if(LLE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "LLE_FUZZ needs Clang: -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  if(LLE_SANITIZE)
    message(FATAL_ERROR "LLE_FUZZ already has ASan+UBSan: leave LLE_SANITIZE off")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# -DLLE_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer for every
# target of this project, aborting on the first UB report so tests fail on it.
if(LLE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

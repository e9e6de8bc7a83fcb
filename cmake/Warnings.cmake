# Warnings for our own targets only (never for imported ones).
function(lle_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wconversion-null)
  if(LLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

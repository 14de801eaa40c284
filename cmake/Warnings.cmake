# Warning flags shared by every target; -Werror when OPSKTL_WERROR is on (CI, make test).
function(opsktl_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Wunused -Wnull-dereference -Wimplicit-fallthrough)
  if(OPSKTL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

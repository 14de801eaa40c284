# AddressSanitizer + UndefinedBehaviorSanitizer for every target of the build (make test-asan).
if(OPSKTL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()

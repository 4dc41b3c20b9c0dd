# Instruments the `encore` library for fuzzing (coverage + sanitizers) without linking
# libFuzzer's main into it; everything that links `encore` gets the sanitizer runtimes.
# Included by fuzz/CMakeLists.txt and by fuzz/io/CMakeLists.txt when built on its own.
set(ENCORE_FUZZ_SANITIZERS "address,undefined" CACHE STRING
    "Sanitizers for the fuzz build (besides fuzzer coverage instrumentation)")
set(_encore_fuzz_flags
    -fsanitize=${ENCORE_FUZZ_SANITIZERS}
    -fno-sanitize-recover=all
    -fno-omit-frame-pointer
    -g)
target_compile_options(encore PRIVATE -fsanitize=fuzzer-no-link ${_encore_fuzz_flags})
target_link_options(encore INTERFACE -fsanitize=${ENCORE_FUZZ_SANITIZERS})

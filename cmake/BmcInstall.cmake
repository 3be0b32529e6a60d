# The installable SDK (README "Install the SDK"):
#   include/bmc/*.h                  the public API (no MLIR or LLVM types)
#   lib/libbmc_runtime.so            bmc::runtime   (packages, sessions, model folders)
#   lib/libbmc_tokenizer.so          bmc::tokenizer (tokenizer.json)
#   lib/libbmc_compiler.so           bmc::compiler  (ONNX -> model, JIT or package)
#   bin/bmc-run, bmc-compile, ...    the tools
#   lib/cmake/bmc/                   find_package(bmc)
#   lib/pkgconfig/bmc.pc, bmc-compiler.pc
# Every library's non-system dependency resolves inside the prefix ($ORIGIN
# run paths); system ones (libMLIR/libLLVM 19, libonnx, protobuf, PCRE2, ICU)
# from the Debian packages .ci/setup.sh installs.
include(CMakePackageConfigHelpers)

# The tree's own bmc_compiler is a static archive over five more static
# archives (frontend, passes, the CUDA emitter, the bmc and bmck dialects);
# the SDK ships them as one shared library so that a consumer links one file
# and none of MLIR's CMake.
file(WRITE ${CMAKE_BINARY_DIR}/bmc_compiler_sdk.cpp "// libbmc_compiler.so: the static compiler archives, whole.\n")
add_library(bmc_compiler_sdk SHARED ${CMAKE_BINARY_DIR}/bmc_compiler_sdk.cpp)
set(bmc_compiler_archives bmc_compiler BmcFrontend BmcPasses BmcCudaEmitter BmckDialect BmcDialect)
add_dependencies(bmc_compiler_sdk ${bmc_compiler_archives})
set(bmc_archive_files)
foreach(a ${bmc_compiler_archives})
  list(APPEND bmc_archive_files $<TARGET_FILE:${a}>)
endforeach()
set_target_properties(bmc_compiler_sdk PROPERTIES OUTPUT_NAME bmc_compiler EXPORT_NAME compiler
                      LINK_DEPENDS "${bmc_archive_files}")
target_link_libraries(bmc_compiler_sdk
  PUBLIC bmc_runtime
  PRIVATE -Wl,--whole-archive ${bmc_archive_files} -Wl,--no-whole-archive
          MLIR LLVM onnx onnx_proto protobuf::libprotobuf)
target_include_directories(bmc_compiler_sdk PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(bmc_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(bmc_tokenizer PROPERTIES EXPORT_NAME tokenizer)

install(TARGETS bmc_runtime bmc_tokenizer bmc_compiler_sdk EXPORT bmcTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS bmc-run bmc-compile bmc-tune bmc-import bmc-opt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/bmc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT bmcTargets NAMESPACE bmc:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bmc)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/bmcConfig.cmake.in ${CMAKE_BINARY_DIR}/sdk/bmcConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bmc)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sdk/bmcConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/sdk/bmcConfig.cmake ${CMAKE_BINARY_DIR}/sdk/bmcConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bmc)
file(RELATIVE_PATH bmc_pc_to_prefix /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
foreach(pc bmc bmc-compiler)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/sdk/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/sdk/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

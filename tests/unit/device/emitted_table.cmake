# cmake -DCU=file.cu -DOUT=table.h -P emitted_table.cmake: the host emulation's
# kernel table of an emitted .cu, one BMC_EMULATED(name) per `extern "C"
# __global__` entry point (the name starts the line after it), so that a test
# of a whole model's program need not list its kernels by hand. No entry point
# is an error: an empty table would fail later, at every launch, less clearly.
file(READ ${CU} text)
string(REGEX MATCHALL "extern \"C\" __global__[^\n]*\n[A-Za-z_][A-Za-z0-9_]*\\(" heads "${text}")
set(body "")
set(n 0)
foreach(h ${heads})
  string(REGEX REPLACE ".*\n([A-Za-z_][A-Za-z0-9_]*)\\($" "\\1" name "${h}")
  string(APPEND body "    BMC_EMULATED(${name}), \\\n")
  math(EXPR n "${n} + 1")
endforeach()
if(n EQUAL 0)
  message(FATAL_ERROR "${CU}: no extern \"C\" __global__ entry point")
endif()
set(table "// Generated from ${CU} by emitted_table.cmake: ${n} entry points.\n#define BMC_EMITTED_TABLE \\\n${body}\n")
# Rewritten only when it changes (its includers are not rebuilt for nothing),
# compared in memory: no temporary file is left in the build tree.
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL table)
  file(WRITE ${OUT} "${table}")
endif()

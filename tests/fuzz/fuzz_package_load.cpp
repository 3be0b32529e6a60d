//===- fuzz_package_load.cpp - libFuzzer target: bytes -> Model::load ----===//
//
// Links bmc_runtime_fuzz: Model::load with the checksum check skipped (so that
// mutated metadata reaches the decoder) and the code section never dlopen'ed
// (runtime/Package.cpp, BMC_FUZZ_PACKAGE_LOADER). The bytes go to an in-memory
// file (memfd) loaded by its /proc path. A model that loads is then given a
// session and a one-token prefill, which sizes the KV caches from the
// metadata; the stand-in code fails that run with an error, which is fine.
//
//===----------------------------------------------------------------------===//

#include "bmc/model.h"
#include "bmc/session.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("bmc-fuzz-package", MFD_CLOEXEC);
  if (fd < 0) {
    std::perror("fuzz_package_load: memfd_create");
    std::abort();
  }
  for (size_t done = 0; done < size;) {
    ssize_t w = ::write(fd, data + done, size - done);
    if (w <= 0) {
      std::perror("fuzz_package_load: write");
      std::abort();
    }
    done += size_t(w);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  bmc::LoadOptions lo;
  lo.threads = 1;
  auto model = bmc::Model::load(path, lo);
  ::close(fd);
  if (!model) {
    if (model.status().message().empty()) std::abort(); // a failure must say why
    return 0;
  }
  bmc::SessionOptions so;
  so.r = 4;           // a fixed r: no cost-model calibration per input
  so.maxContext = 16; // the model's limit may be lower; then create() says so
  auto session = bmc::Session::create(model.value(), so);
  if (!session) return 0;
  (void)session.value()->prefill({{0}});
  return 0;
}

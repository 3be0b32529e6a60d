// Base class for Xbyak-generated kernels, after oneDNN's jit_generator:
// subclasses implement generate() (which should read like a table of contents)
// and read their arguments from one call-params struct by offsetof. create()
// turns any JIT failure into `false`, never an escaping exception, and maps
// the code read+exec only (W^X).
#ifndef BMC_RUNTIME_KERNELS_JIT_GENERATOR_H
#define BMC_RUNTIME_KERNELS_JIT_GENERATOR_H

#include <xbyak/xbyak.h>

#include <cstddef>
#include <initializer_list>

namespace bmc {
namespace kernels {

class JitGenerator : public Xbyak::CodeGenerator {
public:
  explicit JitGenerator(size_t maxCodeSize = 16 * 1024)
      : Xbyak::CodeGenerator(maxCodeSize, Xbyak::DontSetProtectRWE) {}
  virtual ~JitGenerator() = default;

  // Generates the code and makes it executable. False on any failure.
  bool create() {
    try {
      generate();
      ready();
      if (Xbyak::GetError() != 0 || !setProtectModeRE(false))
        return false;
      entry_ = getCode();
      return true;
    } catch (...) {
      return false;
    }
  }
  const void *entry() const { return entry_; }

protected:
  virtual void generate() = 0;

  // System V x86-64 only (Linux, macOS): the first integer argument.
  const Xbyak::Reg64 abiParam1 = rdi;

  // Saves the callee-saved registers the kernel uses (System V: rbx, rbp,
  // r12-r15) and restores them in postamble().
  void preamble(std::initializer_list<Xbyak::Reg64> saved) {
    nSaved_ = 0;
    for (const Xbyak::Reg64 &r : saved) {
      push(r);
      saved_[nSaved_++] = r;
    }
  }
  void postamble() {
    vzeroupper();
    for (int i = nSaved_ - 1; i >= 0; --i)
      pop(saved_[i]);
    ret();
  }

private:
  Xbyak::Reg64 saved_[8];
  int nSaved_ = 0;
  const void *entry_ = nullptr;
};

} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_JIT_GENERATOR_H

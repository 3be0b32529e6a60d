// The calibration caches' reader and writer (runtime/KeyValueFile.h): what
// it reads of well-formed and damaged files, and a write read back.
#include "runtime/KeyValueFile.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

using bmc::KeyValueFile;

TEST(KeyValueFile, ReadsTextNumbersAndIntegers) {
  KeyValueFile f = KeyValueFile::parse("format 3\ncpu Intel(R) Xeon(R) CPU @ 2.10GHz\n\nalloc_seconds 1.5e-05\n"
                                       "threads -4\n");
  EXPECT_EQ(f.size(), 4u);
  std::string cpu;
  EXPECT_TRUE(f.text("cpu", cpu));
  EXPECT_EQ(cpu, "Intel(R) Xeon(R) CPU @ 2.10GHz") << "a text value keeps its spaces";
  double seconds = 0;
  EXPECT_TRUE(f.number("alloc_seconds", seconds));
  EXPECT_EQ(seconds, 1.5e-05);
  int format = 0;
  int64_t threads = 0;
  EXPECT_TRUE(f.integer("format", format));
  EXPECT_EQ(format, 3);
  EXPECT_TRUE(f.integer("threads", threads));
  EXPECT_EQ(threads, -4);
  EXPECT_FALSE(f.number("grow_seconds", seconds)) << "missing";
  EXPECT_EQ(seconds, 1.5e-05) << "untouched when missing";
}

// Parsing stops at the first malformed line; the fields before it stay.
TEST(KeyValueFile, StopsAtTheFirstMalformedLine) {
  struct Case {
    const char *line, *why;
  };
  for (Case c : {Case{"lonely_key\n", "no value"}, Case{"key_and_space \n", "an empty value"},
                 Case{" value_without_key\n", "no key"}, Case{"tab\tkey 1\n", "white space in the key"},
                 Case{"format 4\n", "a repeated key"}}) {
    SCOPED_TRACE(c.why);
    KeyValueFile f = KeyValueFile::parse(std::string("format 3\n") + c.line + "alloc_seconds 2\n");
    EXPECT_EQ(f.size(), 1u);
    int format = 0;
    EXPECT_TRUE(f.integer("format", format));
    EXPECT_EQ(format, 3) << "the first value stays";
    double seconds = 0;
    EXPECT_FALSE(f.number("alloc_seconds", seconds)) << "nothing after the malformed line is read";
  }
}

// A value that is not wholly a number is no number (the old stream reads took
// its prefix); an integer must also fit its type.
TEST(KeyValueFile, NumbersMustBeWhole) {
  KeyValueFile f = KeyValueFile::parse("a 1.5x\nb x1\nc 2.5\nd 3000000000\ne 99999999999999999999\nf 1e999\n");
  double d = -1;
  int64_t i64 = -1;
  int i = -1;
  EXPECT_FALSE(f.number("a", d));
  EXPECT_FALSE(f.number("b", d));
  EXPECT_FALSE(f.integer("c", i64)) << "not an integer";
  EXPECT_TRUE(f.number("c", d));
  EXPECT_EQ(d, 2.5);
  EXPECT_TRUE(f.integer("d", i64));
  EXPECT_EQ(i64, 3000000000);
  EXPECT_FALSE(f.integer("d", i)) << "past int";
  EXPECT_EQ(i, -1);
  EXPECT_FALSE(f.integer("e", i64)) << "past int64";
  EXPECT_FALSE(f.number("f", d)) << "past double";
}

// A write makes the folder and its parent and reads back as written; a
// missing file reads as empty; a path that cannot be written is refused and
// leaves no temporary file.
TEST(KeyValueFile, WritesAndReadsBack) {
  char tmpl[] = "/tmp/bmc_kv_file_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, path = dir + "/bmc/cache/device-x";
  EXPECT_EQ(KeyValueFile::read(path).size(), 0u) << "missing";
  ASSERT_TRUE(KeyValueFile::write(path, "format 1\ndevice NVIDIA H200, 12.4\n"));
  KeyValueFile f = KeyValueFile::read(path);
  std::string device;
  EXPECT_TRUE(f.text("device", device));
  EXPECT_EQ(device, "NVIDIA H200, 12.4");
  EXPECT_EQ(f.size(), 2u);
  EXPECT_FALSE(KeyValueFile::write(dir + "/no/such/deep/folder/file", "format 1\n"));
  EXPECT_FALSE(std::ifstream(dir + "/no/such/deep/folder/file.tmp." + std::to_string(::getpid())).good());
  std::system(("rm -rf '" + dir + "'").c_str());
}

//===- names_test.cpp - parseByName (bmc/abi/names.h) and parseTarget ------===//

#include "bmc/abi/names.h"
#include "bmc/model.h"

#include <gtest/gtest.h>

#include <string>

namespace bmc {
namespace {

enum class Color { Red, Green, Blue };
const char *colorName(Color c) {
  switch (c) {
  case Color::Red: return "red";
  case Color::Green: return "green";
  case Color::Blue: return "blue";
  }
  return "?";
}

TEST(Names, EachListedValueParsesFromItsName) {
  for (Color c : {Color::Red, Color::Green, Color::Blue}) {
    Color out = c == Color::Red ? Color::Blue : Color::Red;
    ASSERT_TRUE(parseByName<Color>(colorName(c), {Color::Red, Color::Green, Color::Blue}, colorName, out));
    EXPECT_EQ(out, c) << colorName(c);
  }
}

TEST(Names, OtherNamesAreRefusedAndLeaveOutAlone) {
  for (const char *bad : {"", "Red", "red ", "re", "reds", "?", "blue\n"}) {
    Color out = Color::Green;
    EXPECT_FALSE(parseByName<Color>(bad, {Color::Red, Color::Green, Color::Blue}, colorName, out)) << bad;
    EXPECT_EQ(out, Color::Green) << bad;
  }
}

TEST(Names, OnlyTheListedValuesAreAccepted) {
  // Blue prints as "blue" but is not in the list.
  Color out = Color::Red;
  EXPECT_FALSE(parseByName<Color>("blue", {Color::Red, Color::Green}, colorName, out));
  EXPECT_EQ(out, Color::Red);
  EXPECT_TRUE(parseByName<Color>("green", {Color::Red, Color::Green}, colorName, out));
  EXPECT_EQ(out, Color::Green);
}

TEST(Names, ParseTargetIsTargetNamesInverse) {
  for (Target t : {Target::Cpu, Target::Cuda}) {
    Target out = t == Target::Cpu ? Target::Cuda : Target::Cpu;
    ASSERT_TRUE(parseTarget(targetName(t), out));
    EXPECT_EQ(out, t);
  }
  EXPECT_EQ(std::string(targetName(Target::Cpu)), "cpu");
  EXPECT_EQ(std::string(targetName(Target::Cuda)), "cuda");
  for (const char *bad : {"", "CPU", "gpu", "cud", "cuda ", "sm_80", "?"}) {
    Target out = Target::Cuda;
    EXPECT_FALSE(parseTarget(bad, out)) << bad;
    EXPECT_EQ(out, Target::Cuda) << bad;
  }
}

} // namespace
} // namespace bmc

// Stop strings on streamed text: held back only while they could still match.
#include <gtest/gtest.h>

#include "engine/stop_matcher.h"

namespace kvinfer {
namespace {

TEST(StopMatcher, ReleasesTextThatCannotStartAStop) {
  StopMatcher matcher({"END"});
  EXPECT_EQ(matcher.push("Hello "), "Hello ");
  EXPECT_EQ(matcher.push("world"), "world");
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopMatcher, HoldsPossiblePrefixThenReleasesIt) {
  StopMatcher matcher({"END"});
  EXPECT_EQ(matcher.push("THE E"), "THE ");
  EXPECT_EQ(matcher.push("N"), "");
  EXPECT_EQ(matcher.push("D"), "");
  EXPECT_TRUE(matcher.stopped());

  StopMatcher other({"END"});
  EXPECT_EQ(other.push("THE E"), "THE ");
  EXPECT_EQ(other.push("X"), "EX");
  EXPECT_FALSE(other.stopped());
}

TEST(StopMatcher, MatchSpanningPiecesCutsBeforeStop) {
  StopMatcher matcher({"lo Wo"});
  EXPECT_EQ(matcher.push("Hel"), "He");  // "l" may start "lo Wo"
  EXPECT_EQ(matcher.push("lo W"), "l");  // "llo W" cannot, "lo W" still may
  EXPECT_EQ(matcher.push("orld"), "");
  EXPECT_TRUE(matcher.stopped());
}

TEST(StopMatcher, TextBeforeStopInsidePieceIsReleased) {
  StopMatcher matcher({"\n\n"});
  EXPECT_EQ(matcher.push("First line.\n\nSecond"), "First line.");
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(matcher.push("more"), "");
  EXPECT_EQ(matcher.flush(), "");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher matcher({"cat", "a c"});
  EXPECT_EQ(matcher.push("I see a cat"), "I see ");
  EXPECT_TRUE(matcher.stopped());
}

TEST(StopMatcher, FlushReleasesHeldTextWithoutStop) {
  StopMatcher matcher({"STOP"});
  EXPECT_EQ(matcher.push("almost ST"), "almost ");
  EXPECT_EQ(matcher.flush(), "ST");
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  StopMatcher matcher({"", "x"});
  EXPECT_EQ(matcher.push("abc"), "abc");
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopMatcher, MultibyteStopHeldAtCharacterBoundary) {
  StopMatcher matcher({"é!"});
  EXPECT_EQ(matcher.push("café"), "caf");
  EXPECT_EQ(matcher.push("!"), "");
  EXPECT_TRUE(matcher.stopped());
}

}  // namespace
}  // namespace kvinfer

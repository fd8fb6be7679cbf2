#include "tools/bench/token_timer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace loom::bench {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;

TEST(TokenTimerTest, OneTokenPerMessage) {
  TokenTimer timer;
  EXPECT_FALSE(timer.has_first_token());
  timer.OnMessage(0.5, 1);
  timer.OnMessage(0.75, 1);
  timer.OnMessage(1.0, 1);
  EXPECT_TRUE(timer.has_first_token());
  EXPECT_DOUBLE_EQ(timer.ttft_s(), 0.5);
  EXPECT_THAT(timer.itl_s(), ElementsAre(DoubleEq(0.25), DoubleEq(0.25)));
  EXPECT_EQ(timer.num_tokens(), 3);
}

TEST(TokenTimerTest, ACoalescedMessageSpreadsItsGapOverItsTokens) {
  TokenTimer timer;
  timer.OnMessage(0.5, 1);
  timer.OnMessage(0.8, 3);  // 0.3 s for three tokens
  timer.OnMessage(0.9, 1);
  EXPECT_THAT(timer.itl_s(),
              ElementsAre(DoubleEq(0.1), DoubleEq(0.1), DoubleEq(0.1), DoubleEq(0.1)));
  EXPECT_EQ(timer.num_tokens(), 5);
}

TEST(TokenTimerTest, TheFirstMessagesExtraTokensHaveNoGapAndEmptyMessagesDoNotCount) {
  TokenTimer timer;
  timer.OnMessage(0.25, 0);  // e.g. a header-only message
  timer.OnMessage(0.5, 3);
  timer.OnMessage(0.6, 0);
  timer.OnMessage(0.75, 1);
  timer.OnMessage(0.8, 0);  // the bare final message
  EXPECT_DOUBLE_EQ(timer.ttft_s(), 0.5);
  EXPECT_THAT(timer.itl_s(), ElementsAre(DoubleEq(0.25)));
  EXPECT_EQ(timer.num_tokens(), 4);
}

}  // namespace
}  // namespace loom::bench

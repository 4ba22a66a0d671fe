#include <gtest/gtest.h>

#include <fstream>

#include "core/config.h"
#include "core/error.h"
#include "core/text.h"
#include "test_util.h"

using namespace pocketrec;
using pocketrec::testing::TempDir;

using pocketrec::testing::error_of;

TEST(Config, DefaultsFileAndOverridesInPrecedenceOrder) {
  TempDir t;
  auto p = t.file("c.json", "// comment\n{\"train\": {\"lr\": 0.01, \"epochs\": 3}, \"eval.ks\": [1, 2]}");
  Config c = Config::load(p, {"--train.epochs=7", "eval.metrics=hr,ndcg"});
  EXPECT_DOUBLE_EQ(c.number("train.lr"), 0.01);
  EXPECT_EQ(c.integer("train.epochs"), 7);
  EXPECT_EQ(c.integers("eval.ks"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c.strings("eval.metrics"), (std::vector<std::string>{"hr", "ndcg"}));
  EXPECT_EQ(c.integer("train.batch_size"), 1024);  // default
  EXPECT_EQ(c.to_json()["train"]["epochs"], 7);
  // The resolved config round-trips.
  Config again = Config::from_json(c.to_json(), "resolved");
  EXPECT_EQ(again.to_json(), c.to_json());
}

TEST(Config, ErrorsNameTheSourceAndKey) {
  TempDir t;
  auto typo = t.file("a.json", "{\"train\": {\"lrr\": 0.1}}");
  EXPECT_EQ(error_of([&] { Config::load(typo, {}); }), typo + ": unknown key 'train.lrr' (did you mean 'train.lr'?)");
  auto neg = t.file("b.json", "{\"train\": {\"lr\": -1}}");
  EXPECT_NE(error_of([&] { Config::load(neg, {}); }).find("b.json: key 'train.lr': expected a number >= "),
            std::string::npos);
  auto dup = t.file("c.json", "{\"train\": {\"lr\": 0.1, \"lr\": 0.2}}");
  EXPECT_EQ(error_of([&] { Config::load(dup, {}); }), dup + ": key 'lr' is given twice");
  auto bad = t.file("d.json", "{\"train\": ");
  EXPECT_NE(error_of([&] { Config::load(bad, {}); }).find("d.json: invalid JSON"), std::string::npos);
  EXPECT_NE(error_of([&] { Config::load(t.path() + "/none.json", {}); }).find("none.json: cannot open the file"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { Config::load("", {"--split.method=random"}); }),
            "command line: key 'split.method': expected one of temporal_ratio|leave_one_out|given, got \"random\"");
  EXPECT_EQ(error_of([&] { Config::load("", {"--train.epochs=ten"}); }),
            "command line: key 'train.epochs': expected an integer, got 'ten'");
  EXPECT_EQ(error_of([&] { Config::load("", {"--model.dimm=3"}); }),
            "command line: unknown key 'model.dimm' (did you mean 'model.dim'?)");
}

TEST(Config, ReferenceDocIsInSyncWithTheSpec) {
  std::string doc = read_file(std::string(POCKETREC_SOURCE_DIR) + "/docs/config.md");
  EXPECT_EQ(doc, config_reference_markdown()) << "regenerate: build/pocketrec help config > docs/config.md";
}

TEST(Text, DidYouMean) {
  EXPECT_EQ(did_you_mean("itemfc", {"pop", "itemcf", "bpr"}), "itemcf");
  EXPECT_FALSE(did_you_mean("transformer", {"pop", "bpr"}).has_value());
}

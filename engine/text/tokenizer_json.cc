#include "engine/text/tokenizer_json.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/text/json_text_iterator.h"
#include "engine/text/string_view_compat.h"

namespace loom::text {
namespace {

using nlohmann::json;

// A SAX handler that builds the DOM itself (a stack of open containers) and diverts
// model.vocab and model.merges into BpeTables. Returning false from an event stops the
// parse; the first error is kept in `error_`.
class TokenizerJsonSax final : public nlohmann::json_sax<json> {
 public:
  explicit TokenizerJsonSax(const JsonLocation& root) : root_location_(root) {}

  bool null() override {
    if (capture_ != Capture::kNone) return CaptureTypeError("null");
    return Value(json(nullptr));
  }
  bool boolean(bool value) override {
    if (capture_ != Capture::kNone) return CaptureTypeError("a boolean");
    return Value(json(value));
  }
  bool number_integer(number_integer_t value) override {
    if (capture_ == Capture::kMerges) return BadMerge();
    if (capture_ == Capture::kVocab) return VocabId(value);
    return Value(json(value));
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (capture_ == Capture::kMerges) return BadMerge();
    if (capture_ == Capture::kVocab) {
      constexpr auto kMax = static_cast<number_unsigned_t>(std::numeric_limits<int64_t>::max());
      return VocabId(static_cast<int64_t>(std::min(value, kMax)));
    }
    return Value(json(value));
  }
  bool number_float(number_float_t value, const string_t&) override {
    if (capture_ != Capture::kNone) return CaptureTypeError("a number");
    return Value(json(value));
  }
  bool string(string_t& value) override {
    if (capture_ == Capture::kMerges) return MergeString(value);
    if (capture_ != Capture::kNone) return CaptureTypeError("a string");
    return Value(json(std::move(value)));
  }
  bool binary(binary_t&) override { return Fail(root_location_.Error("unexpected binary value")); }

  bool start_object(std::size_t) override {
    if (capture_ != Capture::kNone) return CaptureTypeError("an object");
    if (divert_ == Capture::kVocab) {
      divert_ = Capture::kNone;
      capture_ = Capture::kVocab;
      tables_.vocab.emplace();
      return true;
    }
    CancelDivert();
    const bool is_model = stack_.size() == 1 && key_ == "model";
    Open(json::object());
    if (is_model) model_depth_ = stack_.size();
    return true;
  }
  bool key(string_t& name) override {
    if (capture_ == Capture::kVocab) {
      vocab_key_ = std::move(name);
      return true;
    }
    key_ = std::move(name);
    if (stack_.size() == model_depth_ && (key_ == "vocab" || key_ == "merges")) {
      divert_ = key_ == "vocab" ? Capture::kVocab : Capture::kMerges;
    }
    return true;
  }
  bool end_object() override {
    if (capture_ == Capture::kVocab) {
      capture_ = Capture::kNone;
      return true;
    }
    if (stack_.size() == model_depth_) model_depth_ = 0;
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (capture_ == Capture::kMerges) {
      if (in_merge_pair_) return CaptureTypeError("a nested array");
      in_merge_pair_ = true;
      pair_parts_.clear();
      return true;
    }
    if (capture_ != Capture::kNone) return CaptureTypeError("an array");
    if (divert_ == Capture::kMerges) {
      divert_ = Capture::kNone;
      capture_ = Capture::kMerges;
      tables_.merges.emplace();
      return true;
    }
    CancelDivert();
    Open(json::array());
    return true;
  }
  bool end_array() override {
    if (capture_ == Capture::kMerges) {
      if (!in_merge_pair_) {
        capture_ = Capture::kNone;
        return true;
      }
      in_merge_pair_ = false;
      if (pair_parts_.size() != 2) return BadMerge();
      tables_.merges->push_back({std::move(pair_parts_[0]), std::move(pair_parts_[1])});
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::json::exception&) override {
    if (error_.ok())
      error_ = root_location_.Error(absl::StrCat("not valid JSON (at byte ", position, ")"));
    return false;
  }

  absl::Status error() const { return error_; }
  TokenizerJson Take() { return TokenizerJson{std::move(document_), std::move(tables_)}; }

 private:
  enum class Capture { kNone, kVocab, kMerges };

  JsonLocation ModelKey(std::string_view name) const {
    return root_location_.Key("model").Key(name);
  }

  bool Fail(absl::Status status) {
    if (error_.ok()) error_ = std::move(status);
    return false;
  }

  bool CaptureTypeError(std::string_view what) {
    if (capture_ == Capture::kVocab) {
      return Fail(ModelKey("vocab")
                      .Key(vocab_key_)
                      .Error(absl::StrCat("expected a token id, got ", ToAbsl(what))));
    }
    return BadMerge();
  }

  bool BadMerge() {
    return Fail(ModelKey("merges")
                    .Index(tables_.merges->size())
                    .Error("expected \"left right\" or [\"left\", \"right\"]"));
  }

  bool VocabId(int64_t id) {
    if (id < 0 || id >= std::numeric_limits<int32_t>::max()) {
      return Fail(ModelKey("vocab")
                      .Key(vocab_key_)
                      .Error(absl::StrCat("token id ", id, " is out of range")));
    }
    tables_.vocab->emplace_back(std::move(vocab_key_), static_cast<TokenId>(id));
    return true;
  }

  bool MergeString(string_t& value) {
    if (in_merge_pair_) {
      pair_parts_.push_back(std::move(value));
      return true;
    }
    std::optional<BpeMerge> merge = ParseMergeLine(value);
    if (!merge.has_value()) {
      return Fail(
          ModelKey("merges")
              .Index(tables_.merges->size())
              .Error(absl::StrCat("expected \"left right\" with one space, got \"", value, "\"")));
    }
    tables_.merges->push_back(*std::move(merge));
    return true;
  }

  // A diverted key whose value turned out not to be the expected container goes into the
  // DOM after all, so that BpeModel reports its type.
  void CancelDivert() { divert_ = Capture::kNone; }

  bool Value(json value) {
    CancelDivert();
    Place(std::move(value));
    return true;
  }

  void Open(json container) { stack_.push_back(Place(std::move(container))); }

  // Puts `value` into the innermost open container (or makes it the document) and
  // returns where it now lives. Pointers to open containers stay valid: a container
  // only grows while it is the innermost one.
  json* Place(json value) {
    if (stack_.empty()) {
      document_ = std::move(value);
      return &document_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }

  const JsonLocation& root_location_;
  absl::Status error_;
  json document_;
  BpeTables tables_;
  std::vector<json*> stack_;          // open containers, outermost first
  std::string key_;                   // the key of the next object member
  size_t model_depth_ = 0;            // stack_.size() while inside the root's "model" object
  Capture divert_ = Capture::kNone;   // the next value is model.vocab / model.merges
  Capture capture_ = Capture::kNone;  // inside model.vocab / model.merges
  std::string vocab_key_;
  bool in_merge_pair_ = false;  // inside a ["left", "right"] merge
  std::vector<std::string> pair_parts_;
};

}  // namespace

absl::StatusOr<TokenizerJson> ParseTokenizerJson(std::string_view text, const JsonLocation& root) {
  TokenizerJsonSax sax(root);
  const bool ok = json::sax_parse(JsonTextIterator(text.data()),
                                  JsonTextIterator(text.data() + text.size()), &sax);
  if (!ok || !sax.error().ok()) {
    return sax.error().ok() ? root.Error("not valid JSON") : sax.error();
  }
  return sax.Take();
}

}  // namespace loom::text

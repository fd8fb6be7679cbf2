#include "server/api_keys.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace loom {
namespace {

// Equal in time that depends only on the lengths, not on where the bytes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<ApiKeys> ApiKeys::Create(std::vector<std::string> keys,
                                        const std::filesystem::path& key_file) {
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("api_key_file: cannot read ", key_file.string()));
    }
    std::string line;
    while (std::getline(in, line)) {
      const std::string_view key = Trim(line);
      if (key.empty() || key.front() == '#') continue;
      keys.emplace_back(key);
    }
    if (keys.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("api_key_file: ", key_file.string(), " holds no key"));
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& key = keys[i];
    if (key.empty() || std::any_of(key.begin(), key.end(), [](char c) {
          return std::isspace(static_cast<unsigned char>(c)) ||
                 std::iscntrl(static_cast<unsigned char>(c));
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("api_key: key #", i + 1, " is empty or holds whitespace"));
    }
  }
  ApiKeys result;
  result.keys_ = std::move(keys);
  return result;
}

absl::Status ApiKeys::Check(std::string_view authorization) const {
  if (keys_.empty()) return absl::OkStatus();
  // The scheme is case-insensitive (RFC 7235); the key is not.
  constexpr std::string_view kScheme = "bearer ";
  const std::string_view scheme = authorization.substr(0, kScheme.size());
  if (scheme.size() != kScheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), kScheme.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
      })) {
    return absl::UnauthenticatedError(
        "authorization: send the metadata 'authorization: Bearer <api key>'");
  }
  const std::string_view given = authorization.substr(kScheme.size());
  bool match = false;
  for (const std::string& key : keys_) match |= ConstantTimeEquals(given, key);  // no early exit
  if (!match) return absl::UnauthenticatedError("authorization: the API key is not valid");
  return absl::OkStatus();
}

}  // namespace loom

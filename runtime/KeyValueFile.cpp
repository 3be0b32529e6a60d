//===- KeyValueFile.cpp - the calibration caches' `key value` files -------===//

#include "runtime/KeyValueFile.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace bmc {
namespace {

// `s` wholly one number as `parse` (strtod, strtoll) reads it into `out`;
// false, `out` untouched, for no number, more after it, or one out of range.
template <typename T, typename Parse> bool whole(const std::string &s, T &out, Parse parse) {
  const char *begin = s.c_str();
  char *end = nullptr;
  errno = 0;
  T v = parse(begin, &end);
  if (end == begin || *end != '\0' || errno == ERANGE) return false;
  out = v;
  return true;
}

} // namespace

KeyValueFile KeyValueFile::read(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

KeyValueFile KeyValueFile::parse(const std::string &text) {
  KeyValueFile f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    size_t space = line.find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == line.size()) break;
    if (line.find_first_of("\t\r") < space) break;
    if (!f.fields_.emplace(line.substr(0, space), line.substr(space + 1)).second) break;
  }
  return f;
}

bool KeyValueFile::text(const std::string &key, std::string &out) const {
  auto it = fields_.find(key);
  if (it == fields_.end()) return false;
  out = it->second;
  return true;
}

bool KeyValueFile::number(const std::string &key, double &out) const {
  auto it = fields_.find(key);
  return it != fields_.end() && whole(it->second, out, [](const char *s, char **end) { return std::strtod(s, end); });
}

bool KeyValueFile::integer(const std::string &key, int64_t &out) const {
  auto it = fields_.find(key);
  return it != fields_.end() &&
         whole(it->second, out, [](const char *s, char **end) { return int64_t(std::strtoll(s, end, 10)); });
}

bool KeyValueFile::integer(const std::string &key, int &out) const {
  int64_t v = 0;
  if (!integer(key, v) || v < INT_MIN || v > INT_MAX) return false;
  out = int(v);
  return true;
}

bool KeyValueFile::write(const std::string &path, const std::string &text) {
  std::string dir = path.substr(0, path.find_last_of('/'));
  ::mkdir(dir.substr(0, dir.find_last_of('/')).c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::ofstream out(tmp);
  out << text;
  out.close();
  if (out && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

} // namespace bmc

//===- open_file.h - open a model file for reading, regular files only -*- C++ -*-===//
//
// Shared by the package loader and the ONNX importer (header-only: the
// frontend does not link the runtime). A FIFO opened the plain way blocks
// until a writer appears, forever if none does; a device such as /dev/zero
// has no size to map. So the file is opened with O_NONBLOCK (which returns
// at once for a FIFO and changes nothing for a regular file's reads through
// mmap) and refused with one line unless fstat says it is a regular file.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_ABI_OPEN_FILE_H
#define BMC_ABI_OPEN_FILE_H

#include <cerrno>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bmc {

inline const char *fileTypeName(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

/// Opens `path` read-only; on success returns an fd and its size, else -1
/// with `error` set ("cannot open: ...", "expected a regular file, found a
/// FIFO").
inline int openRegularFile(const std::string &path, size_t &size, std::string &error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = std::string("cannot open: ") + std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    error = std::string("cannot stat: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    error = std::string("expected a regular file, found ") + fileTypeName(st.st_mode);
    ::close(fd);
    return -1;
  }
  size = size_t(st.st_size);
  return fd;
}

} // namespace bmc

#endif

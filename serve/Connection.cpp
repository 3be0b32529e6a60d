//===- serve/Connection.cpp - is the client still there? ------------------===//
#include "serve/Connection.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdlib>

namespace bmc::serve {
namespace {

/// The numeric address and port of a socket's end (getsockname/getpeername).
bool endpoint(int fd, bool peer, std::string &addr, int &port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  sockaddr *sa = reinterpret_cast<sockaddr *>(&ss);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return false;
  if (ss.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
  else if (ss.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
  else return false;
  std::array<char, NI_MAXHOST> host{};
  if (::getnameinfo(sa, len, host.data(), socklen_t(host.size()), nullptr, 0, NI_NUMERICHOST) != 0) return false;
  addr = host.data();
  return true;
}

} // namespace

int findConnectionSocket(const std::string &localAddr, int localPort, const std::string &remoteAddr, int remotePort) {
  DIR *d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  std::string addr;
  int port = -1;
  while (dirent *e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    // Ports first: most descriptors fail there (not sockets, or other connections).
    if (!endpoint(fd, false, addr, port) || port != localPort || addr != localAddr) continue;
    if (!endpoint(fd, true, addr, port) || port != remotePort || addr != remoteAddr) continue;
    found = fd;
    break;
  }
  ::closedir(d);
  return found;
}

bool peerGone(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  int n = ::poll(&p, 1, 0);
  if (n <= 0) return false; // nothing happened (or poll failed: no evidence either way)
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return true;
  char c;
  ssize_t r = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r > 0) return false; // data waiting: a pipelined request, the client is there
  if (r == 0) return true; // end of stream
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

} // namespace bmc::serve

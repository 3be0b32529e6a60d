//===- serve/Connection.h - is the client still there? ----------*- C++ -*-===//
//
// cpp-httplib 0.11 (Debian bookworm's) hands a handler no socket: newer
// versions have Request::is_connection_closed, this one does not, and a
// non-streaming response is written only after the handler returns, so a
// client that went away would be noticed only after its whole generation.
// The handler therefore finds its connection's socket by the addresses the
// Request carries: while the handler runs the server holds that socket open,
// and an open TCP connection's (local, remote) address pair is unique.
//
// Thread safety: both functions may be called from any thread.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_SERVE_CONNECTION_H
#define BMC_SERVE_CONNECTION_H

#include <string>

namespace bmc::serve {

/// The descriptor of this process's TCP socket whose local end is
/// localAddr:localPort and remote end remoteAddr:remotePort (addresses in
/// numeric form, as getnameinfo(NI_NUMERICHOST) writes them), or -1.
int findConnectionSocket(const std::string &localAddr, int localPort, const std::string &remoteAddr, int remotePort);

/// Whether the peer of connected socket `fd` has gone: it closed or shut
/// down its sending side (end of stream; like newer cpp-httplib, a client
/// that half-closes after its request counts as gone), or the connection
/// was reset. Bytes waiting to be read (a pipelined request) mean it is
/// still there. Does not block and consumes nothing.
bool peerGone(int fd);

} // namespace bmc::serve

#endif

// UDP sockets for Node 20's dgram, which cannot set SO_REUSEPORT (Node
// 22.12 can) nor say what its receive queue holds.
//
// bindUdp binds a socket and returns its fd for dgram's bind({ fd }). With
// reusePort each SIP worker binds its own socket to the shared port and the
// kernel keeps every source address and port (a phone's flow) on one of
// them, so a phone's retransmissions meet the server transaction that holds
// its answer, and a datagram wakes one worker instead of all of them.
// Without it, a second process on the port fails with EADDRINUSE as dgram's
// own bind would.
//
// receiveQueueBytes reads how much the kernel holds in a socket's receive
// queue (SO_MEMINFO): the registrar's overload gate turns it into the time
// a datagram read now has waited, which Node cannot see.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sock_diag.h>
#endif

static napi_value fail(napi_env env, const char *what, int err) {
  char code[32];
  char message[160];
  snprintf(code, sizeof code, "%s", err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "ESOCKET");
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, code, message);
  return NULL;
}

// bindUdp(family: 4 | 6, host: string, port: number, reusePort: boolean): number (the file descriptor)
static napi_value bind_udp(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) {
    napi_throw_type_error(env, NULL, "bindUdp(family, host, port, reusePort)");
    return NULL;
  }
  int32_t family = 0;
  int32_t port = 0;
  bool reuse_port = false;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  if (napi_get_value_int32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6) ||
      napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535 || napi_get_value_bool(env, argv[3], &reuse_port) != napi_ok) {
    napi_throw_type_error(env, NULL, "bindUdp: family 4 or 6, an IP address, a port 0-65535, reusePort true or false");
    return NULL;
  }
  struct sockaddr_storage addr;
  socklen_t addr_len;
  memset(&addr, 0, sizeof addr);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)&addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return fail(env, "not an IPv4 address", EINVAL);
    addr_len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return fail(env, "not an IPv6 address", EINVAL);
    addr_len = sizeof *a;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(env, "socket", errno);
  int one = 1;
  // As dgram's ipv6Only: a :: listener must not also claim the IPv4 port.
  if ((reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
      (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
      bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
    int err = errno;
    close(fd);
    return fail(env, "bind", err);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// receiveQueueBytes(fd: number): number — bytes the receive queue holds as
// the kernel books them (each datagram with its buffer overhead), or -1
// where SO_MEMINFO is unavailable (not Linux, or a kernel before 3.9).
static napi_value receive_queue_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "receiveQueueBytes(fd)");
    return NULL;
  }
  double bytes = -1;
#if defined(__linux__) && defined(SO_MEMINFO)
  // Newer kernels add fields; the kernel copies no more than we offer.
  uint32_t info_vars[SK_MEMINFO_VARS + 8];
  socklen_t len = sizeof info_vars;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info_vars, &len) == 0 && len > SK_MEMINFO_RMEM_ALLOC * sizeof(uint32_t)) bytes = info_vars[SK_MEMINFO_RMEM_ALLOC];
#endif
  napi_value result;
  napi_create_double(env, bytes, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "bindUdp", NAPI_AUTO_LENGTH, bind_udp, NULL, &fn);
  napi_set_named_property(env, exports, "bindUdp", fn);
  napi_create_function(env, "receiveQueueBytes", NAPI_AUTO_LENGTH, receive_queue_bytes, NULL, &fn);
  napi_set_named_property(env, exports, "receiveQueueBytes", fn);
  return exports;
}

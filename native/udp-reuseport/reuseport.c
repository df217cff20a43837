// A UDP socket bound with SO_REUSEPORT, for Node 20's dgram (whose bind()
// has no reusePort option; Node 22.12 added one). Each SIP worker binds its
// own socket to the shared port and the kernel keeps every source address
// and port (a phone's flow) on one of them, so a phone's retransmissions
// meet the server transaction that holds its answer, and a datagram wakes
// one worker instead of all of them.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char code[32];
  char message[160];
  snprintf(code, sizeof code, "%s", err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "ESOCKET");
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, code, message);
  return NULL;
}

// bindReusePort(family: 4 | 6, host: string, port: number): number (the file descriptor)
static napi_value bind_reuse_port(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, NULL, "bindReusePort(family, host, port)");
    return NULL;
  }
  int32_t family = 0;
  int32_t port = 0;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  if (napi_get_value_int32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6) ||
      napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "bindReusePort: family 4 or 6, an IP address, a port 0-65535");
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
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
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

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "bindReusePort", NAPI_AUTO_LENGTH, bind_reuse_port, NULL, &fn);
  napi_set_named_property(env, exports, "bindReusePort", fn);
  return exports;
}

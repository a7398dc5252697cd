#include "notify.h"

#include "napi_util.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

namespace wgts {

namespace {

// Reads a JS string argument (UTF-8) into `out`; false when the value is not a string.
bool StringArg(napi_env env, napi_value value, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len);
  size_t copied = 0;
  if (napi_get_value_string_utf8(env, value, &(*out)[0], len + 1, &copied) != napi_ok) return false;
  out->resize(copied);
  return true;
}

// Sends `message` to the socket `path` as sd_notify does; returns 0 or the errno.
int SendNotify(const std::string& path, const std::string& message) {
  sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  // An absolute path, or an abstract name written `@name` (the '@' stands for the leading NUL).
  if (path.size() < 2 || (path[0] != '/' && path[0] != '@')) return EAFNOSUPPORT;
  if (path.size() > sizeof(addr.sun_path)) return ENAMETOOLONG;
  memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  // Abstract names are not NUL-terminated: the address length carries their length.
  socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '/' ? 1 : 0));
  if (path[0] == '/' && path.size() == sizeof(addr.sun_path)) return ENAMETOOLONG;

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  ssize_t sent;
  do {
    sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addr_len);
  } while (sent < 0 && errno == EINTR);
  int err = sent < 0 ? errno : (static_cast<size_t>(sent) != message.size() ? EMSGSIZE : 0);
  close(fd);
  return err;
}

napi_value SdNotify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  std::string path;
  std::string message;
  if (argc < 2 || !StringArg(env, argv[0], &path) || !StringArg(env, argv[1], &message)) {
    napi_throw_type_error(env, nullptr, "sdNotify(socketPath: string, message: string)");
    return nullptr;
  }
  napi_value result;
  napi_create_int32(env, SendNotify(path, message), &result);
  return result;
}

}  // namespace

bool RegisterNotify(napi_env env, napi_value exports) {
  return SetFunction(env, exports, "sdNotify", SdNotify);
}

}  // namespace wgts

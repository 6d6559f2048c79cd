// sdev_tap: a TAP device for Node.js through plain Node-API.
//
// One Tap object owns one file descriptor on /dev/net/tun attached to a TAP
// interface (IFF_TAP | IFF_NO_PI). The descriptor is non-blocking and watched
// with a libuv poll handle on the main loop. When it becomes readable the addon
// reads frames until EAGAIN (or until the batch is full) into one buffer that
// JavaScript handed over, writes offsets and lengths into two Int32Arrays and
// calls JavaScript once for the whole batch. Writing takes a batch of frame
// descriptors and loops write() in one native call.
//
// Native resources (fd + poll handle) live in a separately allocated Box so
// that their lifetime is independent of the JavaScript wrapper: the uv_close
// callback frees the Box, never the Tap, and an async environment cleanup hook
// closes everything when the environment (main thread or worker) is torn down
// without close() having been called.

#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// ---------------------------------------------------------------- errors

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

// A JS Error shaped like Node's system errors: code 'EPERM', errno -1,
// syscall 'ioctl(TUNSETIFF)', plus iface with the interface name.
napi_value MakeSysError(napi_env env, int err, const char* syscall, const char* iface) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, iface != nullptr && iface[0] != 0 ? iface : "(unnamed)",
           ErrnoName(err), strerror(err));
  napi_value code, message, error, v;
  napi_create_string_utf8(env, ErrnoName(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (iface != nullptr) {
    napi_create_string_utf8(env, iface, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "iface", v);
  }
  return error;
}

napi_value ThrowSys(napi_env env, int err, const char* syscall, const char* iface) {
  napi_throw(env, MakeSysError(env, err, syscall, iface));
  return nullptr;
}

napi_value ThrowType(napi_env env, const char* msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return nullptr;
}

napi_value ThrowRange(napi_env env, const char* msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return nullptr;
}

// If a Node-API call failed without leaving an exception, leave one.
napi_value ThrowIfFailed(napi_env env, napi_status status) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info* info = nullptr;
    napi_get_last_error_info(env, &info);
    char msg[160];
    snprintf(msg, sizeof msg, "sdev_tap: Node-API call failed (%d: %s)", static_cast<int>(status),
             info != nullptr && info->error_message != nullptr ? info->error_message : "unknown");
    napi_throw_error(env, nullptr, msg);
  }
  return nullptr;
}

#define CHECK_NAPI(call)                        \
  do {                                          \
    napi_status status_ = (call);               \
    if (status_ != napi_ok) {                   \
      return ThrowIfFailed(env, status_);       \
    }                                           \
  } while (0)

// ---------------------------------------------------------------- argument helpers

// Reads an interface name (at most IFNAMSIZ - 1 bytes) into out.
bool GetIfName(napi_env env, napi_value v, char out[IFNAMSIZ], bool allowEmpty) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    ThrowType(env, "interface name must be a string");
    return false;
  }
  char tmp[64];
  size_t n = 0;
  napi_get_value_string_utf8(env, v, tmp, sizeof tmp, &n);
  if (n >= IFNAMSIZ) {
    char msg[160];
    snprintf(msg, sizeof msg, "interface name \"%s%s\" is too long: at most %d bytes", tmp,
             n >= sizeof tmp - 1 ? "..." : "", IFNAMSIZ - 1);
    napi_value code, message, error;
    napi_create_string_utf8(env, "EINVAL", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
    napi_create_range_error(env, code, message, &error);
    napi_throw(env, error);
    return false;
  }
  if (n == 0 && !allowEmpty) {
    ThrowRange(env, "interface name must not be empty");
    return false;
  }
  if (strlen(tmp) != n) {
    ThrowRange(env, "interface name must not contain NUL");
    return false;
  }
  memset(out, 0, IFNAMSIZ);
  memcpy(out, tmp, n);
  return true;
}

bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* length,
              const char* what) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (!is || napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok || type != want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a%s", what,
             want == napi_uint8_array ? " Uint8Array" : "n Int32Array");
    ThrowType(env, msg);
    return false;
  }
  return true;
}

bool GetInt(napi_env env, napi_value v, int64_t* out, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    ThrowType(env, msg);
    return false;
  }
  napi_get_value_int64(env, v, out);
  return true;
}

bool GetFunction(napi_env env, napi_value v, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_function) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a function", what);
    ThrowType(env, msg);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- the device

struct Tap;

// Native resources. Freed only by the uv_close callback.
struct Box {
  uv_poll_t poll;
  int fd = -1;
  bool pollInit = false;
  bool closing = false;
  napi_async_cleanup_hook_handle hook = nullptr;
  Tap* owner = nullptr;  // nulled when the Tap lets go of the box
};

struct Tap {
  napi_env env = nullptr;
  napi_ref wrapper = nullptr;  // weak, made strong while polling
  Box* box = nullptr;          // nullptr once closed
  char name[IFNAMSIZ] = {0};
  napi_async_context actx = nullptr;
  bool polling = false;
  bool teardown = false;  // the environment is going away: no more JS
  int inCallback = 0;

  // receive side: references keep the arrays alive while polling
  napi_ref rxBufRef = nullptr, rxOffRef = nullptr, rxLenRef = nullptr;
  napi_ref onBatchRef = nullptr, onErrorRef = nullptr;
  size_t frameCap = 0;

  // counters
  double rxFrames = 0, rxBytes = 0, rxBatches = 0, rxWakeups = 0;
  double txFrames = 0, txBytes = 0, txAgain = 0, txErrors = 0;
  int lastTxErrno = 0, lastRxErrno = 0;
};

void DeleteRef(napi_env env, napi_ref* r) {
  if (*r != nullptr) {
    napi_delete_reference(env, *r);
    *r = nullptr;
  }
}

void OnBoxClosed(uv_handle_t* h) {
  Box* box = reinterpret_cast<Box*>(h);  // poll is the first member
  if (box->hook != nullptr) {
    napi_async_cleanup_hook_handle hook = box->hook;
    box->hook = nullptr;
    napi_remove_async_cleanup_hook(hook);
  }
  delete box;
}

// Stops polling, closes the fd and hands the box to libuv for freeing.
// Touches no JavaScript.
void CloseBox(Box* box) {
  if (box->closing) return;
  box->closing = true;
  if (box->owner != nullptr) {
    box->owner->box = nullptr;
    box->owner = nullptr;
  }
  if (box->pollInit) {
    box->poll.data = nullptr;
    uv_poll_stop(&box->poll);  // also removes the fd from epoll: safe to close it now
  }
  if (box->fd >= 0) {
    close(box->fd);
    box->fd = -1;
  }
  if (box->pollInit) {
    uv_close(reinterpret_cast<uv_handle_t*>(&box->poll), OnBoxClosed);
  } else {
    OnBoxClosed(reinterpret_cast<uv_handle_t*>(&box->poll));
  }
}

// The environment is being torn down and close() was never called.
void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  Box* box = static_cast<Box*>(arg);
  box->hook = handle;  // the same handle; removing it tells Node we are done
  if (box->owner != nullptr) {
    box->owner->teardown = true;
    box->owner->polling = false;
  }
  CloseBox(box);
}

// Releases everything JS-side that belongs to polling.
void ReleaseRx(Tap* tap) {
  napi_env env = tap->env;
  DeleteRef(env, &tap->rxBufRef);
  DeleteRef(env, &tap->rxOffRef);
  DeleteRef(env, &tap->rxLenRef);
  DeleteRef(env, &tap->onBatchRef);
  DeleteRef(env, &tap->onErrorRef);
}

void StopPolling(Tap* tap) {
  if (!tap->polling) return;
  tap->polling = false;
  if (tap->box != nullptr && tap->box->pollInit) uv_poll_stop(&tap->box->poll);
  ReleaseRx(tap);
  uint32_t count = 0;
  napi_reference_unref(tap->env, tap->wrapper, &count);
}

void DestroyAsyncContext(Tap* tap) {
  if (tap->actx != nullptr && tap->inCallback == 0 && !tap->teardown) {
    napi_async_destroy(tap->env, tap->actx);
    tap->actx = nullptr;
  }
}

void CloseTap(Tap* tap) {
  StopPolling(tap);
  if (tap->box != nullptr) CloseBox(tap->box);
  DestroyAsyncContext(tap);
}

void FinalizeTap(napi_env env, void* data, void* /*hint*/) {
  Tap* tap = static_cast<Tap*>(data);
  if (tap->box != nullptr) {
    // Garbage collected while open (never while polling: then it is strongly held).
    tap->polling = false;
    CloseBox(tap->box);
  }
  if (!tap->teardown) {
    ReleaseRx(tap);
    DestroyAsyncContext(tap);
  }
  DeleteRef(env, &tap->wrapper);
  delete tap;
}

// Calls fn(args) as a top-level callback from the event loop. An exception
// thrown by the callback becomes an uncaught exception, as for any callback
// that Node calls from its loop.
void CallJs(Tap* tap, napi_value self, napi_ref fnRef, size_t argc, napi_value* argv) {
  napi_env env = tap->env;
  napi_value fn, result;
  if (fnRef == nullptr || napi_get_reference_value(env, fnRef, &fn) != napi_ok || fn == nullptr) return;
  tap->inCallback++;
  napi_status s = napi_make_callback(env, tap->actx, self, fn, argc, argv, &result);
  tap->inCallback--;
  if (s == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}

// Resolves the receive arrays anew for every batch (cheap) so that a detached
// buffer is noticed instead of written through.
bool ResolveRx(Tap* tap, uint8_t** buf, size_t* cap, int32_t** off, int32_t** len, size_t* maxFrames) {
  napi_env env = tap->env;
  napi_value b, o, l, ab;
  napi_typedarray_type t;
  size_t n1, n2, offset;
  void *d0, *d1, *d2;
  if (napi_get_reference_value(env, tap->rxBufRef, &b) != napi_ok || b == nullptr) return false;
  if (napi_get_reference_value(env, tap->rxOffRef, &o) != napi_ok || o == nullptr) return false;
  if (napi_get_reference_value(env, tap->rxLenRef, &l) != napi_ok || l == nullptr) return false;
  if (napi_get_typedarray_info(env, b, &t, cap, &d0, &ab, &offset) != napi_ok) return false;
  if (napi_get_typedarray_info(env, o, &t, &n1, &d1, &ab, &offset) != napi_ok) return false;
  if (napi_get_typedarray_info(env, l, &t, &n2, &d2, &ab, &offset) != napi_ok) return false;
  if (d0 == nullptr || d1 == nullptr || d2 == nullptr || *cap < tap->frameCap || n1 == 0 || n2 == 0) return false;
  *buf = static_cast<uint8_t*>(d0);
  *off = static_cast<int32_t*>(d1);
  *len = static_cast<int32_t*>(d2);
  *maxFrames = n1 < n2 ? n1 : n2;
  return true;
}

void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  Tap* tap = static_cast<Tap*>(handle->data);
  if (tap == nullptr || !tap->polling || tap->box == nullptr || tap->teardown) return;
  napi_env env = tap->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  // Holding the wrapper in this scope keeps the Tap alive even if the
  // callback closes it and drops the last reference.
  napi_value self = nullptr;
  napi_get_reference_value(env, tap->wrapper, &self);

  tap->rxWakeups++;
  int err = 0;
  const char* syscall = "read";
  size_t count = 0, bytes = 0;
  {
    uint8_t* buf;
    size_t cap, maxFrames;
    int32_t *off, *len;
    if (!ResolveRx(tap, &buf, &cap, &off, &len, &maxFrames)) {
      err = EFAULT;
      syscall = "read (receive buffer detached)";
    } else {
      const int fd = tap->box->fd;
      size_t pos = 0;
      while (count < maxFrames && cap - pos >= tap->frameCap) {
        ssize_t n = read(fd, buf + pos, cap - pos);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
          break;
        }
        if (n == 0) {  // a TAP never reports end of file while attached
          err = EIO;
          break;
        }
        off[count] = static_cast<int32_t>(pos);
        len[count] = static_cast<int32_t>(n);
        pos += static_cast<size_t>(n);
        count++;
      }
      bytes = pos;
    }
  }
  if (err == 0 && status < 0) {
    // libuv turns EPOLLERR into UV_EBADF; the read above usually tells the
    // real cause (EBADFD once the interface is gone), else report the poll's.
    err = -status;  // libuv error codes are negated errno values on Linux
    syscall = "poll";
  }

  if (count > 0) {
    tap->rxFrames += static_cast<double>(count);
    tap->rxBytes += static_cast<double>(bytes);
    tap->rxBatches++;
    napi_value argv[1];
    napi_create_uint32(env, static_cast<uint32_t>(count), &argv[0]);
    CallJs(tap, self, tap->onBatchRef, 1, argv);
  }

  if (err != 0 && tap->polling && tap->box != nullptr && !tap->teardown) {
    // A hard error (e.g. EBADFD once the interface was deleted with its
    // namespace) would make the level-triggered poll spin: stop, then report.
    tap->lastRxErrno = err;
    napi_ref onError = tap->onErrorRef;
    tap->onErrorRef = nullptr;  // keep the function alive past StopPolling
    napi_value argv[1];
    argv[0] = MakeSysError(env, err, syscall, tap->name);
    if (onError != nullptr) {
      napi_value fn = nullptr;
      napi_get_reference_value(env, onError, &fn);
      napi_delete_reference(env, onError);
      StopPolling(tap);
      if (fn != nullptr) {
        napi_value result;
        tap->inCallback++;
        napi_status s = napi_make_callback(env, tap->actx, self, fn, 1, argv, &result);
        tap->inCallback--;
        if (s == napi_pending_exception) {
          napi_value exc;
          if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
        }
      }
    } else {
      StopPolling(tap);
    }
  }
  // close() inside a callback leaves the async context for us to destroy.
  if (tap->box == nullptr) DestroyAsyncContext(tap);
  napi_close_handle_scope(env, scope);
}

Tap* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, bool mustBeOpen) {
  napi_value self;
  void* data = nullptr;
  if (napi_get_cb_info(env, info, argc, argv, &self, nullptr) != napi_ok ||
      napi_unwrap(env, self, &data) != napi_ok || data == nullptr) {
    ThrowType(env, "not a Tap object");
    return nullptr;
  }
  Tap* tap = static_cast<Tap*>(data);
  if (mustBeOpen && tap->box == nullptr) {
    ThrowSys(env, EBADF, "use after close", tap->name);
    return nullptr;
  }
  return tap;
}

// new Tap(name: string, persist?: boolean, vnetHdr?: boolean)
// vnetHdr: IFF_VNET_HDR, every frame read or written starts with a 10-byte
// struct virtio_net_hdr (offload metadata: checksum to complete, GSO).
napi_value TapNew(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, target;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, &self, nullptr));
  CHECK_NAPI(napi_get_new_target(env, info, &target));
  if (target == nullptr) return ThrowType(env, "Tap must be called with new");
  if (argc < 1) return ThrowType(env, "interface name must be a string");
  char name[IFNAMSIZ];
  if (!GetIfName(env, argv[0], name, true)) return nullptr;
  int persist = -1;
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(env, argv[1], &b);
      persist = b ? 1 : 0;
    } else if (t != napi_undefined && t != napi_null) {
      return ThrowType(env, "persist must be a boolean");
    }
  }
  bool vnetHdr = false;
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_boolean) {
      napi_get_value_bool(env, argv[2], &vnetHdr);
    } else if (t != napi_undefined && t != napi_null) {
      return ThrowType(env, "vnetHdr must be a boolean");
    }
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return ThrowSys(env, e, "open(/dev/net/tun)", name);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return ThrowSys(env, e, "ioctl(TUNSETIFF)", name);
  }
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = 0;
  if (persist >= 0 && ioctl(fd, TUNSETPERSIST, static_cast<unsigned long>(persist)) < 0) {
    int e = errno;
    close(fd);
    return ThrowSys(env, e, "ioctl(TUNSETPERSIST)", name);
  }

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    close(fd);
    return ThrowIfFailed(env, napi_generic_failure);
  }

  Tap* tap = new Tap();
  tap->env = env;
  memcpy(tap->name, name, IFNAMSIZ);
  Box* box = new Box();
  box->fd = fd;
  box->owner = tap;
  tap->box = box;
  int rc = uv_poll_init(loop, &box->poll, fd);
  if (rc != 0) {
    close(fd);
    delete box;
    delete tap;
    return ThrowSys(env, -rc, "uv_poll_init", name);
  }
  box->pollInit = true;
  box->poll.data = nullptr;

  napi_status s = napi_wrap(env, self, tap, FinalizeTap, nullptr, &tap->wrapper);
  if (s != napi_ok) {
    tap->box = nullptr;
    box->owner = nullptr;
    CloseBox(box);
    delete tap;
    return ThrowIfFailed(env, s);
  }
  napi_value resourceName;
  napi_create_string_utf8(env, "sdev_tap", NAPI_AUTO_LENGTH, &resourceName);
  napi_async_init(env, nullptr, resourceName, &tap->actx);
  napi_add_async_cleanup_hook(env, OnEnvCleanup, box, &box->hook);
  return self;
}

// tap.name: the kernel's name of the interface (as it was when opened or last
// asked; TUNGETIFF works through the fd, in any namespace).
napi_value TapName(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tap* tap = Unwrap(env, info, &argc, nullptr, false);
  if (tap == nullptr) return nullptr;
  if (tap->box != nullptr) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(tap->box->fd, TUNGETIFF, &ifr) == 0) {
      memcpy(tap->name, ifr.ifr_name, IFNAMSIZ);
      tap->name[IFNAMSIZ - 1] = 0;
    }
  }
  napi_value v;
  CHECK_NAPI(napi_create_string_utf8(env, tap->name, NAPI_AUTO_LENGTH, &v));
  return v;
}

napi_value TapFd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tap* tap = Unwrap(env, info, &argc, nullptr, false);
  if (tap == nullptr) return nullptr;
  napi_value v;
  CHECK_NAPI(napi_create_int32(env, tap->box != nullptr ? tap->box->fd : -1, &v));
  return v;
}

napi_value TapClosed(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tap* tap = Unwrap(env, info, &argc, nullptr, false);
  if (tap == nullptr) return nullptr;
  napi_value v;
  CHECK_NAPI(napi_get_boolean(env, tap->box == nullptr, &v));
  return v;
}

// tap.start(buf: Uint8Array, off: Int32Array, len: Int32Array, frameCap: number,
//           onBatch: (count) => void, onError: (err) => void)
napi_value TapStart(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  Tap* tap = Unwrap(env, info, &argc, argv, true);
  if (tap == nullptr) return nullptr;
  if (tap->polling) return ThrowSys(env, EALREADY, "start", tap->name);
  if (argc < 6) return ThrowType(env, "start(buf, off, len, frameCap, onBatch, onError)");
  void *d0, *d1, *d2;
  size_t cap, n1, n2;
  int64_t frameCap;
  if (!GetTyped(env, argv[0], napi_uint8_array, &d0, &cap, "buf")) return nullptr;
  if (!GetTyped(env, argv[1], napi_int32_array, &d1, &n1, "off")) return nullptr;
  if (!GetTyped(env, argv[2], napi_int32_array, &d2, &n2, "len")) return nullptr;
  if (!GetInt(env, argv[3], &frameCap, "frameCap")) return nullptr;
  if (!GetFunction(env, argv[4], "onBatch") || !GetFunction(env, argv[5], "onError")) return nullptr;
  if (frameCap < 64 || frameCap > (1 << 20)) return ThrowRange(env, "frameCap must be within 64..1048576");
  if (cap < static_cast<size_t>(frameCap)) return ThrowRange(env, "buf is smaller than frameCap");
  if (cap > 0x7fffffff) return ThrowRange(env, "buf must be smaller than 2 GiB");
  if (n1 == 0 || n2 == 0) return ThrowRange(env, "off and len must hold at least one entry");

  tap->frameCap = static_cast<size_t>(frameCap);
  CHECK_NAPI(napi_create_reference(env, argv[0], 1, &tap->rxBufRef));
  CHECK_NAPI(napi_create_reference(env, argv[1], 1, &tap->rxOffRef));
  CHECK_NAPI(napi_create_reference(env, argv[2], 1, &tap->rxLenRef));
  CHECK_NAPI(napi_create_reference(env, argv[4], 1, &tap->onBatchRef));
  CHECK_NAPI(napi_create_reference(env, argv[5], 1, &tap->onErrorRef));
  tap->box->poll.data = tap;
  int rc = uv_poll_start(&tap->box->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    ReleaseRx(tap);
    return ThrowSys(env, -rc, "uv_poll_start", tap->name);
  }
  tap->polling = true;
  uint32_t count = 0;
  napi_reference_ref(env, tap->wrapper, &count);  // alive while polling
  return nullptr;
}

napi_value TapStop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tap* tap = Unwrap(env, info, &argc, nullptr, false);
  if (tap == nullptr) return nullptr;
  StopPolling(tap);
  return nullptr;
}

napi_value TapClose(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tap* tap = Unwrap(env, info, &argc, nullptr, false);
  if (tap == nullptr) return nullptr;
  CloseTap(tap);
  return nullptr;
}

inline void WriteOne(Tap* tap, int fd, const uint8_t* p, size_t l, bool* ok) {
  ssize_t n;
  do {
    n = write(fd, p, l);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(l)) {
    tap->txFrames++;
    tap->txBytes += static_cast<double>(l);
    *ok = true;
    return;
  }
  *ok = false;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
    tap->txAgain++;
    tap->lastTxErrno = errno;
  } else {
    tap->txErrors++;
    tap->lastTxErrno = n < 0 ? errno : EIO;
  }
}

// tap.write(buf: Uint8Array, off: number, len: number): number
// Returns len when written, or -errno when dropped (EAGAIN, EINVAL, ...).
napi_value TapWrite(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Tap* tap = Unwrap(env, info, &argc, argv, true);
  if (tap == nullptr) return nullptr;
  if (argc < 3) return ThrowType(env, "write(buf, off, len)");
  void* data;
  size_t size;
  int64_t off, len;
  if (!GetTyped(env, argv[0], napi_uint8_array, &data, &size, "buf")) return nullptr;
  if (!GetInt(env, argv[1], &off, "off") || !GetInt(env, argv[2], &len, "len")) return nullptr;
  if (off < 0 || len <= 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(len) > size)
    return ThrowRange(env, "frame is outside buf");
  bool ok;
  WriteOne(tap, tap->box->fd, static_cast<uint8_t*>(data) + off, static_cast<size_t>(len), &ok);
  napi_value v;
  CHECK_NAPI(napi_create_int32(env, ok ? static_cast<int32_t>(len) : -tap->lastTxErrno, &v));
  return v;
}

// tap.writeBatch(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number
// Writes frames 0..count-1, one write() each; returns how many were written.
// Frames the kernel refuses (EAGAIN when its queue is full, EINVAL, ...) are
// counted in stats() and skipped: this never blocks and never throws for them.
napi_value TapWriteBatch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  Tap* tap = Unwrap(env, info, &argc, argv, true);
  if (tap == nullptr) return nullptr;
  if (argc < 4) return ThrowType(env, "writeBatch(buf, off, len, count)");
  void *d0, *d1, *d2;
  size_t size, n1, n2;
  int64_t count;
  if (!GetTyped(env, argv[0], napi_uint8_array, &d0, &size, "buf")) return nullptr;
  if (!GetTyped(env, argv[1], napi_int32_array, &d1, &n1, "off")) return nullptr;
  if (!GetTyped(env, argv[2], napi_int32_array, &d2, &n2, "len")) return nullptr;
  if (!GetInt(env, argv[3], &count, "count")) return nullptr;
  if (count < 0 || static_cast<uint64_t>(count) > n1 || static_cast<uint64_t>(count) > n2)
    return ThrowRange(env, "count exceeds off/len");
  const uint8_t* buf = static_cast<const uint8_t*>(d0);
  const int32_t* offs = static_cast<const int32_t*>(d1);
  const int32_t* lens = static_cast<const int32_t*>(d2);
  for (int64_t i = 0; i < count; i++) {
    if (offs[i] < 0 || lens[i] <= 0 || static_cast<uint64_t>(offs[i]) + static_cast<uint64_t>(lens[i]) > size)
      return ThrowRange(env, "a frame of the batch is outside buf");
  }
  const int fd = tap->box->fd;
  uint32_t sent = 0;
  for (int64_t i = 0; i < count; i++) {
    bool ok;
    WriteOne(tap, fd, buf + offs[i], static_cast<size_t>(lens[i]), &ok);
    if (ok) sent++;
  }
  napi_value v;
  CHECK_NAPI(napi_create_uint32(env, sent, &v));
  return v;
}

// tap.setPersist(on: boolean): TUNSETPERSIST through the fd (any namespace).
napi_value TapSetPersist(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Tap* tap = Unwrap(env, info, &argc, argv, true);
  if (tap == nullptr) return nullptr;
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) return ThrowType(env, "on must be a boolean");
  if (ioctl(tap->box->fd, TUNSETPERSIST, static_cast<unsigned long>(on ? 1 : 0)) < 0)
    return ThrowSys(env, errno, "ioctl(TUNSETPERSIST)", tap->name);
  return nullptr;
}

// tap.setOffload(flags: number): TUNSETOFFLOAD, the offloads the kernel may
// hand us (TUN_F_CSUM 1, TUN_F_TSO4 2, TUN_F_TSO6 4, TUN_F_TSO_ECN 8). Needs
// IFF_VNET_HDR: the metadata travels in each frame's virtio_net_hdr.
napi_value TapSetOffload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Tap* tap = Unwrap(env, info, &argc, argv, true);
  if (tap == nullptr) return nullptr;
  int64_t flags;
  if (argc < 1 || !GetInt(env, argv[0], &flags, "flags")) return nullptr;
  if (flags < 0 || flags > 0xff) return ThrowRange(env, "offload flags must be within 0..255");
  if (ioctl(tap->box->fd, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) < 0)
    return ThrowSys(env, errno, "ioctl(TUNSETOFFLOAD)", tap->name);
  return nullptr;
}

void SetNum(napi_env env, napi_value obj, const char* key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

napi_value TapStats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Tap* tap = Unwrap(env, info, &argc, nullptr, false);
  if (tap == nullptr) return nullptr;
  napi_value o;
  CHECK_NAPI(napi_create_object(env, &o));
  SetNum(env, o, "rxFrames", tap->rxFrames);
  SetNum(env, o, "rxBytes", tap->rxBytes);
  SetNum(env, o, "rxBatches", tap->rxBatches);
  SetNum(env, o, "rxWakeups", tap->rxWakeups);
  SetNum(env, o, "txFrames", tap->txFrames);
  SetNum(env, o, "txBytes", tap->txBytes);
  SetNum(env, o, "txAgain", tap->txAgain);
  SetNum(env, o, "txErrors", tap->txErrors);
  SetNum(env, o, "lastTxErrno", tap->lastTxErrno);
  SetNum(env, o, "lastRxErrno", tap->lastRxErrno);
  return o;
}

// ---------------------------------------------------------------- by-name helpers
// These use an AF_INET socket and find the interface by name in the calling
// process's network namespace: call them before the TAP is moved elsewhere.

int IfIoctl(unsigned long req, struct ifreq* ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int rc = ioctl(s, req, ifr);
  int e = rc < 0 ? errno : 0;
  close(s);
  return e;
}

bool NameArg(napi_env env, napi_callback_info info, size_t want, napi_value* argv, struct ifreq* ifr) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (argc < want) {
    ThrowType(env, "missing arguments");
    return false;
  }
  memset(ifr, 0, sizeof *ifr);
  return GetIfName(env, argv[0], ifr->ifr_name, false);
}

// getMtu(name): number
napi_value GetMtu(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct ifreq ifr;
  if (!NameArg(env, info, 1, argv, &ifr)) return nullptr;
  int e = IfIoctl(SIOCGIFMTU, &ifr);
  if (e != 0) return ThrowSys(env, e, "ioctl(SIOCGIFMTU)", ifr.ifr_name);
  napi_value v;
  CHECK_NAPI(napi_create_int32(env, ifr.ifr_mtu, &v));
  return v;
}

// setMtu(name, mtu)
napi_value SetMtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  if (!NameArg(env, info, 2, argv, &ifr)) return nullptr;
  int64_t mtu;
  if (!GetInt(env, argv[1], &mtu, "mtu")) return nullptr;
  if (mtu < 68 || mtu > 65535) return ThrowRange(env, "mtu must be within 68..65535");
  ifr.ifr_mtu = static_cast<int>(mtu);
  int e = IfIoctl(SIOCSIFMTU, &ifr);
  if (e != 0) return ThrowSys(env, e, "ioctl(SIOCSIFMTU)", ifr.ifr_name);
  return nullptr;
}

// setUp(name, up: boolean): SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP set or cleared.
napi_value SetUp(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  if (!NameArg(env, info, 2, argv, &ifr)) return nullptr;
  bool up = false;
  if (napi_get_value_bool(env, argv[1], &up) != napi_ok) return ThrowType(env, "up must be a boolean");
  int e = IfIoctl(SIOCGIFFLAGS, &ifr);
  if (e != 0) return ThrowSys(env, e, "ioctl(SIOCGIFFLAGS)", ifr.ifr_name);
  if (up)
    ifr.ifr_flags |= IFF_UP;
  else
    ifr.ifr_flags &= ~IFF_UP;
  e = IfIoctl(SIOCSIFFLAGS, &ifr);
  if (e != 0) return ThrowSys(env, e, "ioctl(SIOCSIFFLAGS)", ifr.ifr_name);
  return nullptr;
}

// getMac(name): Buffer of 6 bytes
napi_value GetMac(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct ifreq ifr;
  if (!NameArg(env, info, 1, argv, &ifr)) return nullptr;
  int e = IfIoctl(SIOCGIFHWADDR, &ifr);
  if (e != 0) return ThrowSys(env, e, "ioctl(SIOCGIFHWADDR)", ifr.ifr_name);
  napi_value v;
  void* out;
  CHECK_NAPI(napi_create_buffer_copy(env, 6, ifr.ifr_hwaddr.sa_data, &out, &v));
  return v;
}

// setMac(name, mac: Uint8Array(6))
napi_value SetMac(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  if (!NameArg(env, info, 2, argv, &ifr)) return nullptr;
  void* data;
  size_t n;
  if (!GetTyped(env, argv[1], napi_uint8_array, &data, &n, "mac")) return nullptr;
  if (n != 6) return ThrowRange(env, "mac must be 6 bytes");
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(ifr.ifr_hwaddr.sa_data, data, 6);
  int e = IfIoctl(SIOCSIFHWADDR, &ifr);
  if (e != 0) return ThrowSys(env, e, "ioctl(SIOCSIFHWADDR)", ifr.ifr_name);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"name", nullptr, nullptr, TapName, nullptr, nullptr, napi_enumerable, nullptr},
      {"fd", nullptr, nullptr, TapFd, nullptr, nullptr, napi_enumerable, nullptr},
      {"closed", nullptr, nullptr, TapClosed, nullptr, nullptr, napi_enumerable, nullptr},
      {"start", nullptr, TapStart, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"stop", nullptr, TapStop, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"close", nullptr, TapClose, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"write", nullptr, TapWrite, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"writeBatch", nullptr, TapWriteBatch, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"setOffload", nullptr, TapSetOffload, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"setPersist", nullptr, TapSetPersist, nullptr, nullptr, nullptr, napi_default_method, nullptr},
      {"stats", nullptr, TapStats, nullptr, nullptr, nullptr, napi_default_method, nullptr},
  };
  napi_value cls;
  CHECK_NAPI(napi_define_class(env, "Tap", NAPI_AUTO_LENGTH, TapNew, nullptr, sizeof props / sizeof props[0],
                               props, &cls));
  napi_property_descriptor fns[] = {
      {"Tap", nullptr, nullptr, nullptr, nullptr, cls, napi_enumerable, nullptr},
      {"getMtu", nullptr, GetMtu, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setMtu", nullptr, SetMtu, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setUp", nullptr, SetUp, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"getMac", nullptr, GetMac, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setMac", nullptr, SetMac, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  CHECK_NAPI(napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }

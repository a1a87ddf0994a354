/*
 * vcr_udp: batched UDP receive and send for VCR (Linux, IPv4).
 *
 * Node's dgram path costs one libuv callback and one Buffer per datagram on receive and one
 * syscall plus callback per datagram on send; at high rates that cost dominates. This addon
 * moves whole batches with one recvmmsg/sendmmsg into and out of caller-owned slabs, so the
 * JavaScript side allocates nothing per datagram. Readiness comes from a one-shot uv_poll on
 * Node's own event loop: it fires once when the socket becomes readable, then stays disarmed
 * until the caller has drained the socket and re-arms it, so an idle agent parks instead of
 * spinning and a busy one is not interrupted by callbacks.
 *
 * Receive timestamps: every receiving socket has SO_TIMESTAMPNS on, so the kernel stamps each
 * datagram (CLOCK_REALTIME) when it arrives, before it waits in the receive queue. recvBatch
 * gives each datagram's age (the realtime clock read once just after recvmmsg, minus that
 * stamp) rather than the stamp itself: an age is a difference on one clock, so the caller can
 * subtract it from its own monotonic clock and keep every event's times on one timeline
 * (docs/ARCHITECTURE.md, "Receive timestamps").
 *
 * Source addresses: with a `sources` buffer, recvBatch also asks for each datagram's msg_name and
 * writes its source address and port in the compact form the archive stores (src/util/
 * source-address.ts: 4 or 16 address bytes in network order, then the port little endian), so
 * the JavaScript side copies bytes and never builds an address string per datagram.
 *
 * Errors of the setup calls throw (with the errno name in `code`); the data-path calls
 * return a negative errno instead, because the caller counts them and carries on.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Per call on the stack (~72 KiB): no shared state, so worker threads may use it too. */
#define MAX_BATCH 512

/* Room for one SCM_TIMESTAMPNS control message per datagram. */
#define STAMP_CONTROL_LEN CMSG_SPACE(sizeof(struct timespec))
typedef union {
  struct cmsghdr align;
  char buf[STAMP_CONTROL_LEN];
} stamp_control_t;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) return throw_msg(env, "EINVAL", "invalid arguments");                   \
  } while (0)

static napi_value throw_msg(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "ESYSCALL";
  return throw_msg(env, code, msg);
}

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

/* Reads an IPv4 address string argument; null/undefined leaves *present = 0. */
static int get_addr(napi_env env, napi_value v, struct in_addr *addr, int *present) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  *present = 0;
  if (t == napi_null || t == napi_undefined) return 0;
  if (t != napi_string) return -1;
  char buf[64];
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok) return -1;
  if (inet_pton(AF_INET, buf, addr) != 1) return -1;
  *present = 1;
  return 0;
}

static int get_buffer(napi_env env, napi_value v, char **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return -1;
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok ? 0 : -1;
}

static int get_i64_array(napi_env env, napi_value v, int64_t **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, (void **)data, &ab, &off) != napi_ok) return -1;
  return type == napi_bigint64_array ? 0 : -1;
}

static int get_i32_array(napi_env env, napi_value v, int32_t **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, (void **)data, &ab, &off) != napi_ok) return -1;
  return type == napi_int32_array ? 0 : -1;
}

/* open(bindHost, port, rcvbufBytes, group|null, interface|null) -> fd */
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct in_addr host, group, iface;
  int has_host, has_group, has_iface;
  int32_t port, rcvbuf;
  if (argc < 5 || get_addr(env, argv[0], &host, &has_host) || !has_host || get_i32(env, argv[1], &port) ||
      get_i32(env, argv[2], &rcvbuf) || get_addr(env, argv[3], &group, &has_group) ||
      get_addr(env, argv[4], &iface, &has_iface) || port < 0 || port > 65535)
    return throw_msg(env, "EINVAL", "open(host, port, rcvbuf, group, interface): bad arguments");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (has_group) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* best effort: without it datagrams carry no stamp and recvBatch reports age -1 */
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (rcvbuf > 0) {
    /* FORCE passes net.core.rmem_max when privileged; otherwise ask and let the kernel cap */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr = host;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  if (has_group) {
    struct ip_mreq mreq;
    mreq.imr_multiaddr = group;
    mreq.imr_interface.s_addr = has_iface ? iface.s_addr : htonl(INADDR_ANY);
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, "IP_ADD_MEMBERSHIP", err);
    }
  }
  return num(env, fd);
}

/* openSender(host, port, ttl (-1: default), interface|null, sndbufBytes) -> fd, connected */
static napi_value OpenSender(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct in_addr host, iface;
  int has_host, has_iface;
  int32_t port, ttl, sndbuf;
  if (argc < 5 || get_addr(env, argv[0], &host, &has_host) || !has_host || get_i32(env, argv[1], &port) ||
      get_i32(env, argv[2], &ttl) || get_addr(env, argv[3], &iface, &has_iface) || get_i32(env, argv[4], &sndbuf) ||
      port < 1 || port > 65535)
    return throw_msg(env, "EINVAL", "openSender(host, port, ttl, interface, sndbuf): bad arguments");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  unsigned char loop = 1;
  setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
  if (ttl >= 0) {
    unsigned char t = (unsigned char)ttl;
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof t);
  }
  if (has_iface && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "IP_MULTICAST_IF", err);
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr = host;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "connect", err);
  }
  return num(env, fd);
}

/* localPort(fd) -> port */
static napi_value LocalPort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_i32(env, argv[0], &fd)) return throw_msg(env, "EINVAL", "localPort(fd)");
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return throw_errno(env, "getsockname", errno);
  return num(env, ntohs(sa.sin_port));
}

/* bufferSizes(fd) -> [SO_RCVBUF, SO_SNDBUF] as the kernel granted them */
static napi_value BufferSizes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_i32(env, argv[0], &fd)) return throw_msg(env, "EINVAL", "bufferSizes(fd)");
  int rcv = 0, snd = 0;
  socklen_t l = sizeof rcv;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
  l = sizeof snd;
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &l);
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, num(env, rcv));
  napi_set_element(env, out, 1, num(env, snd));
  return out;
}

/* Nanoseconds of a timespec. */
static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000LL + (int64_t)t->tv_nsec; }

/* The SCM_TIMESTAMPNS stamp of a received message, or -1 when it has none. */
static int64_t stamp_of(struct msghdr *h) {
  if (h->msg_controllen == 0 || (h->msg_flags & MSG_CTRUNC)) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
      struct timespec t;
      memcpy(&t, CMSG_DATA(c), sizeof t);
      return ts_ns(&t);
    }
  }
  return -1;
}

/* Bytes per datagram in recvBatch's `sources`: [length u8 (0, 6 or 18)][0 u8][encoded source, 18 bytes]. */
#define SOURCE_RECORD 20

static void put_port(uint8_t *out, uint16_t port_net) {
  uint16_t port = ntohs(port_net);
  out[0] = (uint8_t)(port & 0xff);
  out[1] = (uint8_t)(port >> 8);
}

/* Writes the source record of one datagram from its msg_name (an IPv4-mapped IPv6 address becomes IPv4). */
static void put_source(uint8_t *rec, const struct sockaddr_in6 *name, socklen_t namelen) {
  const struct sockaddr *sa = (const struct sockaddr *)name;
  rec[0] = 0;
  rec[1] = 0;
  if (namelen >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)name;
    memcpy(rec + 2, &in4->sin_addr, 4);
    put_port(rec + 6, in4->sin_port);
    rec[0] = 6;
  } else if (namelen >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
    if (IN6_IS_ADDR_V4MAPPED(&name->sin6_addr)) {
      memcpy(rec + 2, &name->sin6_addr.s6_addr[12], 4);
      put_port(rec + 6, name->sin6_port);
      rec[0] = 6;
    } else {
      memcpy(rec + 2, &name->sin6_addr, 16);
      put_port(rec + 18, name->sin6_port);
      rec[0] = 18;
    }
  }
}

/*
 * recvBatch(fd, slab, slotSize, maxCount, lengths[, ages[, sources]]) -> count, or -errno (0 when nothing
 * is waiting). Datagram i lands at slab[i * slotSize]; lengths[i] is its real length, which is
 * larger than slotSize when it was truncated (MSG_TRUNC makes the kernel report the full size).
 * With ages (a BigInt64Array), ages[i] is how long datagram i had been in the kernel before
 * this call returned: CLOCK_REALTIME read once after recvmmsg minus the datagram's
 * SCM_TIMESTAMPNS stamp, at least 0 (a realtime step backwards in between cannot make it
 * negative); -1 when the datagram carried no stamp. With sources (a Buffer of SOURCE_RECORD bytes
 * per datagram), sources[i * 20] is the length of datagram i's encoded source (0 when the kernel
 * gave none), and the encoded source follows at i * 20 + 2.
 */
static napi_value RecvBatch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, slot, max;
  char *slab;
  char *sources = NULL;
  size_t slab_len, n_len, n_ages = 0, sources_len = 0;
  int32_t *lengths;
  int64_t *ages = NULL;
  if (argc < 5 || get_i32(env, argv[0], &fd) || get_buffer(env, argv[1], &slab, &slab_len) || get_i32(env, argv[2], &slot) ||
      get_i32(env, argv[3], &max) || get_i32_array(env, argv[4], &lengths, &n_len) || slot <= 0 || max < 0)
    return throw_msg(env, "EINVAL", "recvBatch(fd, slab, slotSize, maxCount, lengths[, ages]): bad arguments");
  if (argc >= 6) {
    napi_valuetype t;
    if (napi_typeof(env, argv[5], &t) != napi_ok) return throw_msg(env, "EINVAL", "recvBatch: bad ages");
    if (t != napi_undefined && t != napi_null && get_i64_array(env, argv[5], &ages, &n_ages))
      return throw_msg(env, "EINVAL", "recvBatch: ages must be a BigInt64Array");
  }
  if (argc >= 7) {
    napi_valuetype t;
    if (napi_typeof(env, argv[6], &t) != napi_ok) return throw_msg(env, "EINVAL", "recvBatch: bad sources");
    if (t != napi_undefined && t != napi_null && get_buffer(env, argv[6], &sources, &sources_len))
      return throw_msg(env, "EINVAL", "recvBatch: sources must be a Buffer");
  }
  struct mmsghdr g_msgs[MAX_BATCH];
  struct iovec g_iovs[MAX_BATCH];
  stamp_control_t g_ctrl[MAX_BATCH];
  struct sockaddr_in6 g_names[MAX_BATCH];
  size_t count = (size_t)max;
  if (count > MAX_BATCH) count = MAX_BATCH;
  if (count > n_len) count = n_len;
  if (ages != NULL && count > n_ages) count = n_ages;
  if (sources != NULL && count > sources_len / SOURCE_RECORD) count = sources_len / SOURCE_RECORD;
  if (count > slab_len / (size_t)slot) count = slab_len / (size_t)slot;
  if (count == 0) return num(env, 0);
  for (size_t i = 0; i < count; i++) {
    g_iovs[i].iov_base = slab + i * (size_t)slot;
    g_iovs[i].iov_len = (size_t)slot;
    memset(&g_msgs[i].msg_hdr, 0, sizeof g_msgs[i].msg_hdr);
    g_msgs[i].msg_hdr.msg_iov = &g_iovs[i];
    g_msgs[i].msg_hdr.msg_iovlen = 1;
    if (ages != NULL) {
      g_msgs[i].msg_hdr.msg_control = g_ctrl[i].buf;
      g_msgs[i].msg_hdr.msg_controllen = sizeof g_ctrl[i].buf;
    }
    if (sources != NULL) {
      g_msgs[i].msg_hdr.msg_name = &g_names[i];
      g_msgs[i].msg_hdr.msg_namelen = sizeof g_names[i];
    }
    g_msgs[i].msg_len = 0;
  }
  int r;
  do {
    r = recvmmsg(fd, g_msgs, (unsigned)count, MSG_DONTWAIT | MSG_TRUNC, NULL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return num(env, (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno);
  for (int i = 0; i < r; i++) lengths[i] = (int32_t)g_msgs[i].msg_len;
  if (sources != NULL) {
    for (int i = 0; i < r; i++) put_source((uint8_t *)sources + (size_t)i * SOURCE_RECORD, &g_names[i], g_msgs[i].msg_hdr.msg_namelen);
  }
  if (ages != NULL) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = ts_ns(&now);
    for (int i = 0; i < r; i++) {
      int64_t stamp = stamp_of(&g_msgs[i].msg_hdr);
      ages[i] = stamp < 0 ? -1 : (now_ns > stamp ? now_ns - stamp : 0);
    }
  }
  return num(env, r);
}

/*
 * sendBatch(fd, slab, offsets, lengths, first, count) -> datagrams sent, or -errno. Sends
 * datagrams first..first+count-1 (slab[offsets[i]], lengths[i]) on a connected socket; a full
 * socket buffer (EAGAIN) ends the batch early and the caller keeps the rest.
 */
static napi_value SendBatch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, first, cnt;
  char *slab;
  size_t slab_len, n_off, n_len;
  int32_t *offsets, *lengths;
  if (argc < 6 || get_i32(env, argv[0], &fd) || get_buffer(env, argv[1], &slab, &slab_len) ||
      get_i32_array(env, argv[2], &offsets, &n_off) || get_i32_array(env, argv[3], &lengths, &n_len) ||
      get_i32(env, argv[4], &first) || get_i32(env, argv[5], &cnt) || first < 0 || cnt < 0 ||
      (size_t)first + (size_t)cnt > n_off || (size_t)first + (size_t)cnt > n_len)
    return throw_msg(env, "EINVAL", "sendBatch(fd, slab, offsets, lengths, first, count): bad arguments");
  struct mmsghdr g_msgs[MAX_BATCH];
  struct iovec g_iovs[MAX_BATCH];
  size_t count = (size_t)cnt > MAX_BATCH ? MAX_BATCH : (size_t)cnt;
  for (size_t i = 0; i < count; i++) {
    int32_t off = offsets[first + i], len = lengths[first + i];
    if (off < 0 || len < 0 || (size_t)off + (size_t)len > slab_len)
      return throw_msg(env, "ERANGE", "sendBatch: a datagram lies outside the slab");
    g_iovs[i].iov_base = slab + off;
    g_iovs[i].iov_len = (size_t)len;
    memset(&g_msgs[i].msg_hdr, 0, sizeof g_msgs[i].msg_hdr);
    g_msgs[i].msg_hdr.msg_iov = &g_iovs[i];
    g_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  if (count == 0) return num(env, 0);
  int r;
  do {
    r = sendmmsg(fd, g_msgs, (unsigned)count, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return num(env, (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) ? 0 : -errno);
  return num(env, r);
}

/* One-shot readiness watch: see the module comment. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int active;
  int closed;        /* unwatched: the JS callback is gone, uv_close requested */
  int handle_closed; /* libuv is done with the handle */
  int finalized;     /* the JS handle was garbage collected */
} watch_t;

/* Freed once both libuv and the JS external are done with it, in whichever order. */
static void on_poll_closed(uv_handle_t *h) {
  watch_t *w = (watch_t *)h->data;
  w->handle_closed = 1;
  if (w->finalized) free(w);
}

static void stop_watch(napi_env env, watch_t *w) {
  if (w->closed) return;
  w->closed = 1;
  w->active = 0;
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->async);
  uv_close((uv_handle_t *)&w->poll, on_poll_closed);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  watch_t *w = (watch_t *)p->data;
  uv_poll_stop(&w->poll);
  w->active = 0;
  if (w->closed) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); /* make_callback wants an object receiver */
  napi_make_callback(env, w->async, recv, cb, 0, NULL, &result);
  napi_close_handle_scope(env, scope);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  watch_t *w = (watch_t *)data;
  w->finalized = 1;
  stop_watch(env, w);
  if (w->handle_closed) free(w);
}

/* watch(fd, callback) -> handle (armed) */
static napi_value Watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out, name;
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  if (argc < 2 || get_i32(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function)
    return throw_msg(env, "EINVAL", "watch(fd, callback): bad arguments");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return throw_msg(env, "ENOMEM", "watch: out of memory");
  if (uv_poll_init(loop, &w->poll, fd) != 0) {
    free(w);
    return throw_msg(env, "ESYSCALL", "watch: uv_poll_init failed");
  }
  w->poll.data = w;
  w->env = env;
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_create_string_utf8(env, "vcr_udp.watch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->async);
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  w->active = 1;
  napi_create_external(env, w, watch_finalize, NULL, &out);
  return out;
}

static watch_t *get_watch(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  napi_get_value_external(env, v, &data);
  return (watch_t *)data;
}

/* arm(handle): watch again for the next readable moment (after draining) */
static napi_value Arm(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watch_t *w = argc < 1 ? NULL : get_watch(env, argv[0]);
  if (!w) return throw_msg(env, "EINVAL", "arm(handle): bad arguments");
  if (!w->closed && !w->active) {
    uv_poll_start(&w->poll, UV_READABLE, on_readable);
    w->active = 1;
  }
  return NULL;
}

/* unwatch(handle): stops watching; call before close(fd) */
static napi_value Unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watch_t *w = argc < 1 ? NULL : get_watch(env, argv[0]);
  if (!w) return throw_msg(env, "EINVAL", "unwatch(handle): bad arguments");
  stop_watch(env, w);
  return NULL;
}

/* close(fd) */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || get_i32(env, argv[0], &fd) || fd < 0) return throw_msg(env, "EINVAL", "close(fd)");
  close(fd);
  return NULL;
}

/*
 * fallocate(fd, length) -> 0 or -errno: allocates the blocks of [0, length) of a file for real
 * (mode 0, the size grows to length). Not UDP, but the one native helper storage needs: segment
 * and part files are preallocated so a full disk is an ENOSPC here and never a SIGBUS in a
 * mapping, and a system call costs microseconds where spawning fallocate(1) from a large
 * process costs tens of milliseconds (docs/REPLICATION.md §11). -EOPNOTSUPP: the caller writes zeros.
 */
static napi_value Fallocate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int64_t length;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || get_i32(env, argv[0], &fd) || fd < 0 || napi_get_value_int64(env, argv[1], &length) != napi_ok || length < 0) {
    return throw_msg(env, "EINVAL", "fallocate(fd, length)");
  }
  int r;
  do {
    r = fallocate(fd, 0, 0, (off_t)length);
  } while (r < 0 && errno == EINTR);
  return num(env, r < 0 ? -errno : 0);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"openSender", NULL, OpenSender, NULL, NULL, NULL, napi_default, NULL},
      {"localPort", NULL, LocalPort, NULL, NULL, NULL, napi_default, NULL},
      {"bufferSizes", NULL, BufferSizes, NULL, NULL, NULL, napi_default, NULL},
      {"recvBatch", NULL, RecvBatch, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, SendBatch, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, Watch, NULL, NULL, NULL, napi_default, NULL},
      {"arm", NULL, Arm, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, Unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
      {"fallocate", NULL, Fallocate, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

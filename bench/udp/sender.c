/*
 * Paced UDP sender for the record benchmarks: sends COUNT datagrams of SIZE bytes to
 * HOST:PORT at RATE datagrams per second (0 = as fast as possible), in small bursts
 * with sendmmsg so the sender is never the bottleneck. Each datagram starts with its
 * sequence number (uint64 LE) so receivers can tell loss from reordering.
 * BURST (default 32, at most 32) datagrams go out per sendmmsg; 1 paces every datagram on
 * its own (the paced-replay baseline). Prints "sent N elapsed_ns" on stdout when done.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define BURST 32

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: sender HOST PORT COUNT SIZE RATE [CHANNELS [BURST]]\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  uint64_t count = strtoull(argv[3], 0, 10);
  int size = atoi(argv[4]);
  double rate = atof(argv[5]);
  int channels = argc > 6 ? atoi(argv[6]) : 1; /* ports PORT .. PORT+channels-1, round robin */
  int burst = argc > 7 ? atoi(argv[7]) : BURST;
  if (size < 8 || size > 65507 || channels < 1 || burst < 1 || burst > BURST) { fprintf(stderr, "bad size, channels or burst\n"); return 2; }

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int sndbuf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  struct sockaddr_in *addrs = calloc(channels, sizeof *addrs);
  for (int c = 0; c < channels; c++) {
    addrs[c].sin_family = AF_INET;
    addrs[c].sin_port = htons(port + c);
    if (inet_pton(AF_INET, host, &addrs[c].sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
  }
  char (*bufs)[65507] = calloc(BURST, 65507);
  struct mmsghdr msgs[BURST];
  struct iovec iov[BURST];
  for (int i = 0; i < BURST; i++) memset(bufs[i], 'x', size);

  uint64_t start = now_ns();
  uint64_t sent = 0;
  while (sent < count) {
    int n = 0;
    while (n < burst && sent + n < count) {
      uint64_t seq = sent + n;
      memcpy(bufs[n], &seq, 8);
      iov[n].iov_base = bufs[n];
      iov[n].iov_len = size;
      memset(&msgs[n], 0, sizeof msgs[n]);
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      msgs[n].msg_hdr.msg_name = &addrs[seq % channels];
      msgs[n].msg_hdr.msg_namelen = sizeof addrs[0];
      n++;
    }
    int r = sendmmsg(fd, msgs, n, 0);
    if (r < 0) { perror("sendmmsg"); return 1; }
    sent += r;
    if (rate > 0) {
      uint64_t due = start + (uint64_t)((double)sent * 1e9 / rate);
      uint64_t t;
      while ((t = now_ns()) < due) {
        if (due - t > 200000) {
          struct timespec ts = {0, (long)(due - t - 100000)};
          nanosleep(&ts, 0);
        }
      }
    }
  }
  printf("sent %llu %llu\n", (unsigned long long)sent, (unsigned long long)(now_ns() - start));
  return 0;
}

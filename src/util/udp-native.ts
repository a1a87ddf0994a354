/**
 * Typed loader of the optional native UDP addon (native/, built by `npm run build:native`,
 * which `prepare` runs): batched recvmmsg/sendmmsg into caller-owned slabs, and a one-shot
 * readiness watch on Node's event loop. The addon is an accelerator only: when it is not
 * built, fails to load, the platform is not Linux, or VCR_UDP_NATIVE=0 is set, udpNative()
 * returns undefined and callers keep using node:dgram. Loaded once, lazily.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Opaque readiness-watch handle. */
export type UdpWatch = { readonly __brand: 'UdpWatch' };

export interface UdpNative {
  /** Bound, non-blocking IPv4 socket; joins `group` (on `iface`) when given. Throws (err.code) on failure. */
  open(bindHost: string, port: number, rcvbufBytes: number, group: string | null, iface: string | null): number;
  /** Non-blocking IPv4 socket connected to host:port; ttl -1 keeps the default. Throws on failure. */
  openSender(host: string, port: number, ttl: number, iface: string | null, sndbufBytes: number): number;
  localPort(fd: number): number;
  /** [SO_RCVBUF, SO_SNDBUF] as granted by the kernel. */
  bufferSizes(fd: number): [number, number];
  /**
   * Receives up to maxCount datagrams, datagram i into slab[i*slotSize ..]; lengths[i] is its
   * real length (> slotSize: truncated). With `ages`, ages[i] is how many nanoseconds datagram
   * i had waited since the kernel stamped its arrival (SO_TIMESTAMPNS, on for every socket
   * open() makes), measured when the call returns; -1 when it carried no stamp. With `sources`
   * (NATIVE_SOURCE_RECORD bytes per datagram), sources[i * 20] is the length (0, 6 or 18) of
   * datagram i's source address encoded as src/util/source-address.ts says, which follows at
   * i * 20 + 2. Returns the count, 0 when nothing waits, or -errno.
   */
  recvBatch(fd: number, slab: Buffer, slotSize: number, maxCount: number, lengths: Int32Array, ages?: BigInt64Array | null, sources?: Buffer): number;
  /**
   * Sends datagrams first..first+count-1 (slab[offsets[i]], lengths[i] bytes) on a connected
   * socket. Returns how many went (fewer when the socket buffer is full), or -errno.
   */
  sendBatch(fd: number, slab: Buffer, offsets: Int32Array, lengths: Int32Array, first: number, count: number): number;
  /** Calls callback once when fd becomes readable, then stays quiet until arm(). */
  watch(fd: number, callback: () => void): UdpWatch;
  arm(watch: UdpWatch): void;
  /** Stops the watch for good; call before close(fd). */
  unwatch(watch: UdpWatch): void;
  close(fd: number): void;
}

/** Bytes per datagram of recvBatch's `sources`: the encoded source's length, a zero byte, 18 bytes of room. */
export const NATIVE_SOURCE_RECORD = 20;

/** Most datagrams one recvBatch/sendBatch call moves (the addon's per-call limit). */
export const NATIVE_MAX_BATCH = 512;

let loaded: UdpNative | null | undefined;
let loadError: string | undefined;

/** Where the built addon is looked for: native/build/Release above this module (src/ or dist/src/). */
export function nativeAddonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'native', 'build', 'Release', 'vcr_udp.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return undefined;
}

function load(): UdpNative | null {
  if (process.platform !== 'linux') {
    loadError = `not supported on ${process.platform}`;
    return null;
  }
  const path = nativeAddonPath();
  if (path === undefined) {
    loadError = 'addon not built (native/build/Release/vcr_udp.node missing)';
    return null;
  }
  try {
    const mod = createRequire(import.meta.url)(path) as UdpNative;
    if (typeof mod.recvBatch !== 'function' || typeof mod.sendBatch !== 'function') {
      loadError = `${path} is not the vcr_udp addon`;
      return null;
    }
    return mod;
  } catch (e) {
    loadError = `cannot load ${path}: ${(e as Error).message}`;
    return null;
  }
}

/** Whether the environment asks for the dgram path (VCR_UDP_NATIVE=0|false|off). */
export function nativeDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['VCR_UDP_NATIVE'];
  return v !== undefined && /^(0|false|off|no)$/i.test(v.trim());
}

/** The addon, or undefined when unavailable or disabled by VCR_UDP_NATIVE=0. */
export function udpNative(): UdpNative | undefined {
  if (nativeDisabledByEnv()) return undefined;
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

/** Why udpNative() returns undefined (undefined when it does not). */
export function udpNativeUnavailableReason(): string | undefined {
  if (nativeDisabledByEnv()) return 'disabled by VCR_UDP_NATIVE';
  udpNative();
  return loaded ? undefined : loadError;
}

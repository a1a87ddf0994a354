/**
 * fallocate(2) through the native addon (native/src/vcr_udp.c, `fallocate(fd, length)`): one
 * system call allocates a 64 MiB segment or part file, where spawning fallocate(1) from the
 * archiver costs tens of milliseconds of CPU (fork of a large process, exec), once per copied
 * segment during a repair (docs/REPLICATION.md §11). The addon is optional: when it is not
 * built, predates the function, the platform is not Linux, or VCR_NATIVE_FALLOCATE=0 is set,
 * `nativeFallocate()` is undefined and preallocateFile spawns fallocate(1) as before.
 */
import { createRequire } from 'node:module';
import { nativeAddonPath } from '../util/udp-native.js';

/** Allocates [0, length) of the open file `fd` for real; 0, or a negative errno. */
export type Fallocate = (fd: number, length: number) => number;

let loaded: Fallocate | null | undefined;

function load(): Fallocate | null {
  if (process.platform !== 'linux') return null;
  const path = nativeAddonPath();
  if (path === undefined) return null;
  try {
    const mod = createRequire(import.meta.url)(path) as { fallocate?: unknown };
    return typeof mod.fallocate === 'function' ? (mod.fallocate as Fallocate) : null;
  } catch {
    return null;
  }
}

/** The native fallocate, or undefined (see the module comment). */
export function nativeFallocate(): Fallocate | undefined {
  const v = process.env['VCR_NATIVE_FALLOCATE'];
  if (v !== undefined && /^(0|false|off|no)$/i.test(v.trim())) return undefined;
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

/**
 * Disk usage of an archive's segments: the `.rec` files in its directory (and in directories
 * below it, a few levels down, where colder copies may be kept) and their bytes. A query, not
 * a hot path: it walks the directory each time.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function usageOf(dir: string): { segments: number; bytes: number } {
  let segments = 0;
  let bytes = 0;
  const walk = (at: string, depth: number): void => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      const p = join(at, e.name);
      if (e.isDirectory() && depth < 3) walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.rec')) {
        segments++;
        try {
          bytes += statSync(p).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  try {
    walk(dir, 0);
  } catch {
    // unreadable directory: report what was counted
  }
  return { segments, bytes };
}

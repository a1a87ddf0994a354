/**
 * The console's page: plain files from the package's `console/` directory (HTML, ES modules,
 * CSS), read once and served from memory. Nothing is fetched from anywhere else at run time.
 * The directory is found by walking up from this module, so it works from src/ (tests) and
 * from dist/src/ (the CLI) alike.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export function consoleDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

export interface StaticFile {
  type: string;
  body: Buffer;
}

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  constructor(dir = consoleDir()) {
    if (!dir) return;
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type) this.files.set(name, { type, body: readFileSync(join(dir, name)) });
    }
  }

  /** The file for a URL path: `/` is index.html, `/console/NAME` a file of the directory. */
  get(path: string): StaticFile | undefined {
    if (path === '/' || path === '/index.html') return this.files.get('index.html');
    if (!path.startsWith('/console/')) return undefined;
    const name = path.slice('/console/'.length);
    return name.includes('/') ? undefined : this.files.get(name);
  }
}

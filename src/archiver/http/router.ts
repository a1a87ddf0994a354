/**
 * A small method + path router: patterns are literal segments and `:name` parameters
 * (`/api/holds/:id`). Routes are tried in the order they were added; the first match wins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The client's address (unmapped IPv4 where it was IPv4-mapped). */
  client: string;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  parts: string[];
  handler: RouteHandler;
  /** True for requests that change state: they need the session's CSRF token and are logged. */
  changes: boolean;
}

export interface RouteMatch {
  handler: RouteHandler;
  params: Record<string, string>;
  changes: boolean;
}

export class Router {
  private readonly routes: Route[] = [];

  get(path: string, handler: RouteHandler): this {
    return this.add('GET', path, handler, false);
  }

  post(path: string, handler: RouteHandler): this {
    return this.add('POST', path, handler, true);
  }

  delete(path: string, handler: RouteHandler): this {
    return this.add('DELETE', path, handler, true);
  }

  private add(method: string, path: string, handler: RouteHandler, changes: boolean): this {
    this.routes.push({ method, parts: path.split('/').filter((p) => p !== ''), handler, changes });
    return this;
  }

  /** The route for method and path; 'method' when the path exists under another method only. */
  match(method: string, path: string): RouteMatch | 'method' | undefined {
    const parts = path.split('/').filter((p) => p !== '');
    let pathKnown = false;
    for (const r of this.routes) {
      const params = matchParts(r.parts, parts);
      if (!params) continue;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
        pathKnown = true;
        continue;
      }
      return { handler: r.handler, params, changes: r.changes };
    }
    return pathKnown ? 'method' : undefined;
  }
}

function matchParts(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    let v: string;
    try {
      v = decodeURIComponent(parts[i]!);
    } catch {
      return undefined;
    }
    if (p.startsWith(':')) params[p.slice(1)] = v;
    else if (p !== v) return undefined;
  }
  return params;
}

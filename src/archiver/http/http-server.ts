/**
 * The archiver's one HTTP server (docs/ARCHIVER.md "HTTP: console and metrics"): the operator
 * console's page at `/`, its JSON/SSE API under `/api/`, and the Prometheus text at `/metrics`.
 *
 * Every request passes the same gates before it reaches a route: the client address must be on
 * the control endpoint's allowlist (else the connection is answered 403 and counted
 * `rejected`), and the Host header must be an IP address or localhost (a DNS-rebinding page
 * cannot talk to it under its own name). State-changing routes need the session's CSRF token
 * (csrf.ts) and are logged with the client's address, whatever their outcome.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { ErrorCode, VcrError, errorCodeName } from '../../util/errors.js';
import { formatHostPort } from '../../util/endpoint.js';
import { unmapIPv4, type AddressAllowlist } from '../address-allowlist.js';
import type { ArchiverCounters } from '../archiver-counters.js';
import type { ArchiverLog } from '../archiver-services.js';
import type { ArchiverMetrics } from '../archiver-metrics.js';
import { CsrfSessions } from './csrf.js';
import { Router, type RouteContext } from './router.js';
import { StaticFiles } from './static-files.js';

export interface HttpServerDeps {
  allowlist: AddressAllowlist;
  counters: ArchiverCounters;
  metrics: ArchiverMetrics;
  log: ArchiverLog;
  /** The /api routes (console-api.ts). */
  api: (router: Router, csrf: CsrfSessions) => void;
  staticFiles?: StaticFiles;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};

/** Largest request body read (JSON of an action). */
const MAX_BODY = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS }).end(JSON.stringify(value));
}

/** The HTTP status of an answer with this error code. */
export function statusOf(code: number): number {
  switch (code) {
    case ErrorCode.NOT_ALLOWED:
      return 403;
    case ErrorCode.UNKNOWN_RECORDING:
    case ErrorCode.UNKNOWN_CHANNEL:
    case ErrorCode.UNKNOWN_REPLAY:
      return 404;
    case ErrorCode.INVALID_ARGUMENT:
    case ErrorCode.INVALID_POSITION:
    case ErrorCode.INVALID_SOURCE:
    case ErrorCode.REQUEST_TOO_LARGE:
      return 400;
    case ErrorCode.NOT_READY:
    case ErrorCode.REPLICA_UNAVAILABLE:
      return 503;
    default:
      return 409;
  }
}

export function sendError(res: ServerResponse, err: unknown): number {
  const e = err instanceof VcrError ? err : new VcrError(ErrorCode.GENERIC, err instanceof Error ? err.message : String(err));
  const status = statusOf(e.code);
  sendJson(res, status, { error: errorCodeName(e.code), code: e.code, message: e.message });
  return status;
}

/** The request body parsed as a JSON object (INVALID_ARGUMENT when it is not one). */
export function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new VcrError(ErrorCode.INVALID_ARGUMENT, `request body is larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        const v: unknown = text === '' ? {} : JSON.parse(text);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(new VcrError(ErrorCode.INVALID_ARGUMENT, 'request body must be a JSON object'));
      }
    });
  });
}

/** A Host header naming an IP address or localhost (any port); absent is allowed (HTTP/1.0 tools). */
function hostAllowed(host: string | undefined): boolean {
  if (host === undefined) return true;
  const m = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(host);
  if (!m) return false;
  const name = m[1]!.replace(/^\[|\]$/g, '');
  return name === 'localhost' || isIP(name) !== 0;
}

export class HttpServer {
  private server: Server | undefined;
  private readonly router = new Router();
  private readonly csrf = new CsrfSessions();
  private readonly files: StaticFiles;
  private address: { host: string; port: number } | undefined;

  constructor(private readonly deps: HttpServerDeps) {
    this.files = deps.staticFiles ?? new StaticFiles();
    this.router.get('/metrics', ({ res }) => this.metrics(res));
    deps.api(this.router, this.csrf);
  }

  /** http://HOST:PORT/ as bound. */
  get url(): string | undefined {
    return this.address ? `http://${formatHostPort(this.address.host === '0.0.0.0' ? '127.0.0.1' : this.address.host, this.address.port)}/` : undefined;
  }

  get port(): number | undefined {
    return this.address?.port;
  }

  private metrics(res: ServerResponse): Promise<void> {
    return this.deps.metrics.text().then(
      (body) => void res.writeHead(200, { 'content-type': this.deps.metrics.registry.contentType }).end(body),
      (err: Error) => void res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const client = unmapIPv4(req.socket.remoteAddress ?? '');
    if (!this.deps.allowlist.allows(client)) {
      this.deps.counters.add('rejected');
      res.writeHead(403, { 'content-type': 'text/plain' }).end('not allowed\n');
      return;
    }
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('use the address of the archiver (an IP address or localhost) in the URL\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const route = this.router.match(method, url.pathname);
    if (route === undefined) {
      const file = method === 'GET' || method === 'HEAD' ? this.files.get(url.pathname) : undefined;
      if (file) {
        res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }).end(method === 'HEAD' ? undefined : file.body);
        return;
      }
      if (url.pathname.startsWith('/api/')) sendJson(res, 404, { error: 'NOT_FOUND', message: `no API route ${url.pathname}` });
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the console is at /, metrics at /metrics\n');
      return;
    }
    if (route === 'method') {
      sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${url.pathname}` });
      return;
    }
    const ctx: RouteContext = { req, res, params: route.params, query: url.searchParams, client };
    if (!route.changes) {
      void this.run(route.handler, ctx);
      return;
    }
    if (!this.csrf.verify(req)) {
      this.deps.log.warn({ client, method, path: url.pathname }, 'console request refused: missing or wrong CSRF token');
      sendJson(res, 403, { error: 'CSRF', code: ErrorCode.NOT_ALLOWED, message: 'a state-changing request needs the session cookie and its token in the x-vcr-csrf header' });
      return;
    }
    res.on('finish', () => this.deps.log.info({ client, method, path: url.pathname, status: res.statusCode }, 'console request'));
    void this.run(route.handler, ctx);
  }

  private async run(handler: (ctx: RouteContext) => Promise<void> | void, ctx: RouteContext): Promise<void> {
    try {
      await handler(ctx);
    } catch (err) {
      sendError(ctx.res, err);
    }
  }

  /** Binds host:port; resolves with the bound port (ADDRESS_IN_USE when taken). */
  listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = undefined;
        reject(
          err.code === 'EADDRINUSE'
            ? new VcrError(ErrorCode.ADDRESS_IN_USE, `HTTP port ${formatHostPort(host, port)} is already in use`)
            : new VcrError(ErrorCode.INVALID_ARGUMENT, `cannot serve HTTP on ${formatHostPort(host, port)}: ${err.message}`),
        );
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        const a = server.address() as AddressInfo;
        this.address = { host, port: a.port };
        resolve(a.port);
      });
    });
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.closeAllConnections?.();
      s.close(() => resolve());
    });
  }
}

/**
 * Per-browser-session CSRF tokens. A session is a random id in an HttpOnly, SameSite=Strict
 * cookie; its token is handed to the page by GET /api/session (readable only same-origin: the
 * server sends no CORS headers) and must come back in the `x-vcr-csrf` header of every
 * state-changing request. A forged cross-site request carries neither the cookie (SameSite)
 * nor the token. Sessions are kept in memory, at most MAX_SESSIONS (the oldest go first).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CSRF_HEADER = 'x-vcr-csrf';
export const SESSION_COOKIE = 'vcr_console';
const MAX_SESSIONS = 10_000;

export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class CsrfSessions {
  /** session id -> token, in creation order (Map iteration order) */
  private readonly tokens = new Map<string, string>();

  /** The request's session and token, creating them (and a Set-Cookie value) when it has none. */
  session(req: IncomingMessage): { token: string; setCookie?: string } {
    const sid = cookieOf(req, SESSION_COOKIE);
    const known = sid !== undefined ? this.tokens.get(sid) : undefined;
    if (known !== undefined) return { token: known };
    const id = randomBytes(18).toString('base64url');
    const token = randomBytes(24).toString('base64url');
    if (this.tokens.size >= MAX_SESSIONS) this.tokens.delete(this.tokens.keys().next().value!);
    this.tokens.set(id, token);
    return { token, setCookie: `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict` };
  }

  /** True when the request's cookie names a session and its header carries that session's token. */
  verify(req: IncomingMessage): boolean {
    const sid = cookieOf(req, SESSION_COOKIE);
    const expected = sid !== undefined ? this.tokens.get(sid) : undefined;
    const given = req.headers[CSRF_HEADER];
    if (expected === undefined || typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

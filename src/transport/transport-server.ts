/**
 * The listening side of the framed-TCP transport: binds HOST:PORT (`tcp://HOST:PORT` or a bare
 * `HOST:PORT`, parsed by the one endpoint parser; port 0 binds any free port, reported by
 * `port`), wraps each accepted socket in a Connection and queues it; the owner takes new
 * connections with `poll()` from its duty cycle. What a connection must present first (a
 * token, a hello) is the owner's business.
 *
 * Accepted connections the owner has not taken yet are bounded (`maxPending`, default 64):
 * beyond that a new socket is closed at once and counted in `refused`, so a flood of connects
 * cannot grow memory while the owner is busy.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode, VcrError } from '../util/errors.js';
import { formatHostPort, parseEndpoint, type ParsedEndpoint } from '../util/endpoint.js';
import { Connection } from './connection.js';
import { resolveConnectionOptions, type ConnectionOptions } from './connection-options.js';

export const TransportServerState = {
  INIT: 'INIT',
  LISTENING: 'LISTENING',
  CLOSED: 'CLOSED',
} as const;
export type TransportServerState = (typeof TransportServerState)[keyof typeof TransportServerState];

export interface TransportServerOptions {
  /** options of every accepted connection */
  connection?: ConnectionOptions;
  /** accepted connections waiting for poll() before new ones are refused, default 64 */
  maxPending?: number;
  /** what the endpoint is, for error messages (default "transport endpoint") */
  what?: string;
}

export class TransportServer {
  readonly endpoint: ParsedEndpoint;
  private readonly server: Server;
  private readonly pending: Connection[] = [];
  private readonly maxPending: number;
  private readonly connectionOptions: ConnectionOptions;
  private currentState: TransportServerState = TransportServerState.INIT;
  private boundPort = 0;
  private acceptedCount = 0;
  private refusedCount = 0;
  private failure: VcrError | undefined;

  /** Parses the endpoint (INVALID_ARGUMENT when it is not HOST:PORT); call listen() to bind. */
  constructor(endpoint: string, options: TransportServerOptions = {}) {
    this.endpoint = parseEndpoint(endpoint, { schemes: ['tcp', 'none'], what: options.what ?? 'transport endpoint', allowPortZero: true });
    this.maxPending = options.maxPending ?? 64;
    this.connectionOptions = options.connection ?? {};
    resolveConnectionOptions(this.connectionOptions); // bad options fail here, not on the first accept
    this.server = createServer({ noDelay: true }, (socket) => this.onSocket(socket));
    this.server.on('error', (err) => {
      this.failure = ioError(`${this.address}: ${err.message}`, err);
    });
  }

  get state(): TransportServerState {
    return this.currentState;
  }

  /** The bound port (the real one when the endpoint said 0); 0 before listen() resolved. */
  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.endpoint.host;
  }

  /** HOST:PORT as bound (IPv6 in brackets). */
  get address(): string {
    return formatHostPort(this.endpoint.host, this.boundPort || this.endpoint.port);
  }

  /** The last server error (the listening socket failed), if any. */
  get error(): VcrError | undefined {
    return this.failure;
  }

  get accepted(): number {
    return this.acceptedCount;
  }

  get refused(): number {
    return this.refusedCount;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Binds; resolves with the bound port. Rejects with IO_ERROR naming the endpoint (e.g. address in use). */
  listen(): Promise<number> {
    if (this.currentState !== TransportServerState.INIT) {
      return Promise.reject(new VcrError(ErrorCode.INVALID_ARGUMENT, `transport server ${this.address} is ${this.currentState}, not INIT`));
    }
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.currentState = TransportServerState.CLOSED;
        reject(ioError(`cannot listen on ${this.address}: ${err.message}`, err));
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.endpoint.host, port: this.endpoint.port, exclusive: true }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : this.endpoint.port;
        this.currentState = TransportServerState.LISTENING;
        resolve(this.boundPort);
      });
    });
  }

  /** Hands up to `limit` newly accepted connections to `handler`; returns how many. */
  poll(handler: (connection: Connection) => void, limit = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    while (n < limit && this.pending.length > 0) {
      const c = this.pending.shift()!;
      n++;
      handler(c);
    }
    return n;
  }

  /**
   * Stops listening and aborts connections not taken by poll(). Connections already taken
   * belong to their owner and stay open. Idempotent.
   */
  close(): void {
    if (this.currentState === TransportServerState.CLOSED) return;
    this.currentState = TransportServerState.CLOSED;
    this.server.close();
    for (const c of this.pending.splice(0)) c.abort('transport server closed');
  }

  private onSocket(socket: Socket): void {
    if (this.currentState !== TransportServerState.LISTENING || this.pending.length >= this.maxPending) {
      this.refusedCount++;
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.acceptedCount++;
    this.pending.push(new Connection(socket, this.connectionOptions));
  }
}

function ioError(message: string, cause: Error): VcrError {
  return new VcrError(ErrorCode.IO_ERROR, message, { cause });
}

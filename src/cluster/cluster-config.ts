/**
 * The cluster file (SPEC §3), shared by every node; `--node` says which entry is this process.
 * Validation is strict: unknown keys, wrong types, duplicate ids or endpoints and an unknown
 * node id are refused at start-up with INVALID_CLUSTER_CONFIG (UNKNOWN_NODE for the id) and a
 * message naming the key, the way the archiver's own config file is checked.
 *
 * Defaults and their reasons are in docs/REPLICATION.md §11-12.
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';
import { formatHostPort, parseEndpoint, quoteForMessage } from '../util/endpoint.js';

export interface ClusterNode {
  id: string;
  /** control endpoint HOST:PORT */
  control: string;
  /** replication endpoint HOST:PORT (TCP): where peers connect, as advertised to them */
  replication: string;
  /**
   * where this node's replication server listens, when it differs from the advertised
   * endpoint (0.0.0.0 behind NAT or in a container, or a proxy in front of it); default
   * `replication`
   */
  replicationListen?: string;
}

export interface ClusterConfig {
  /** name of the cluster: the etcd key prefix is /vcr/<name>/ */
  name: string;
  k: number;
  /** etcd client endpoints HOST:PORT */
  etcd: string[];
  nodes: ClusterNode[];
  /** how long a node may be down before repair replaces it */
  graceMs: number;
  /** repair copy rate per fetching node */
  repairBytesPerSec: number;
  /** lease TTL of a node's membership (etcd grants whole seconds: rounded up) */
  leaseTtlMs: number;
  /** a replica further behind than this is reported as lagging */
  maxLagBytes: number;
  maxLagMs: number;
  /** the scrubber's read rate for re-checking idle copies (0: off) */
  scrubBytesPerSec: number;
  /** a copy is re-checked by the scrubber at most this often */
  scrubIntervalMs: number;
}

export const CLUSTER_DEFAULTS = {
  name: 'vcr',
  graceMs: 5_000,
  repairBytesPerSec: 512 * 1024 * 1024,
  leaseTtlMs: 3_000,
  maxLagBytes: 64 * 1024 * 1024,
  maxLagMs: 5_000,
  scrubBytesPerSec: 16 * 1024 * 1024,
  scrubIntervalMs: 3_600_000,
} as const;

const KEYS = ['name', 'k', 'etcd', 'nodes', 'graceMs', 'repairBytesPerSec', 'leaseTtlMs', 'maxLagBytes', 'maxLagMs', 'scrubBytesPerSec', 'scrubIntervalMs'];
const NODE_KEYS = ['id', 'control', 'replication', 'replicationListen'];
const ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function bad(key: string, what: string): VcrError {
  return new VcrError(ErrorCode.INVALID_CLUSTER_CONFIG, `cluster file key '${key}': ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(doc: Record<string, unknown>, key: string, min: number, max: number, dflt?: number): number {
  const v = doc[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(key, `must be an integer from ${min} to ${max}, got ${v === undefined ? 'nothing' : quoteForMessage(JSON.stringify(v), 60)}`);
  }
  return v;
}

function hostPort(v: unknown, key: string): string {
  if (typeof v !== 'string') throw bad(key, 'must be a string HOST:PORT');
  try {
    const e = parseEndpoint(v, { schemes: ['none'], what: key });
    return formatHostPort(e.host, e.port);
  } catch (err) {
    throw bad(key, (err as Error).message);
  }
}

/** Validates a parsed cluster document. */
export function parseClusterConfig(doc: unknown): ClusterConfig {
  if (!isObject(doc)) throw bad('(root)', 'the cluster file must hold a JSON object');
  for (const k of Object.keys(doc)) if (!KEYS.includes(k)) throw bad(k, `unknown key (known: ${KEYS.join(', ')})`);
  const name = doc.name === undefined ? CLUSTER_DEFAULTS.name : doc.name;
  if (typeof name !== 'string' || !ID_RULE.test(name)) throw bad('name', 'must be 1-64 characters of letters, digits, ".", "_" or "-"');
  if (!Array.isArray(doc.etcd) || doc.etcd.length === 0) throw bad('etcd', 'must be a non-empty array of HOST:PORT');
  const etcd = doc.etcd.map((e, i) => hostPort(e, `etcd[${i}]`));
  if (!Array.isArray(doc.nodes) || doc.nodes.length === 0) throw bad('nodes', 'must be a non-empty array of {id, control, replication}');
  const ids = new Set<string>();
  const endpoints = new Map<string, string>();
  const nodes = doc.nodes.map((n, i): ClusterNode => {
    const key = `nodes[${i}]`;
    if (!isObject(n)) throw bad(key, 'must be an object {id, control, replication}');
    for (const k of Object.keys(n)) if (!NODE_KEYS.includes(k)) throw bad(`${key}.${k}`, `unknown key (known: ${NODE_KEYS.join(', ')})`);
    if (typeof n.id !== 'string' || !ID_RULE.test(n.id)) throw bad(`${key}.id`, 'must be 1-64 characters of letters, digits, ".", "_" or "-"');
    if (ids.has(n.id)) throw bad(`${key}.id`, `node id ${JSON.stringify(n.id)} appears twice`);
    ids.add(n.id);
    const node: ClusterNode = { id: n.id, control: hostPort(n.control, `${key}.control`), replication: hostPort(n.replication, `${key}.replication`) };
    // not in the duplicate check: wildcard listens (0.0.0.0:P on every host) repeat legitimately
    if (n.replicationListen !== undefined) node.replicationListen = hostPort(n.replicationListen, `${key}.replicationListen`);
    for (const [what, ep] of [['control', node.control], ['replication', node.replication]] as const) {
      const other = endpoints.get(ep);
      if (other) throw bad(`${key}.${what}`, `endpoint ${ep} is also ${other}`);
      endpoints.set(ep, `${key}.${what}`);
    }
    return node;
  });
  const k = int(doc, 'k', 1, nodes.length);
  return {
    name,
    k,
    etcd,
    nodes,
    graceMs: int(doc, 'graceMs', 0, 7 * 24 * 3600 * 1000, CLUSTER_DEFAULTS.graceMs),
    repairBytesPerSec: int(doc, 'repairBytesPerSec', 1024, Number.MAX_SAFE_INTEGER, CLUSTER_DEFAULTS.repairBytesPerSec),
    leaseTtlMs: int(doc, 'leaseTtlMs', 1_000, 600_000, CLUSTER_DEFAULTS.leaseTtlMs),
    maxLagBytes: int(doc, 'maxLagBytes', 4096, Number.MAX_SAFE_INTEGER, CLUSTER_DEFAULTS.maxLagBytes),
    maxLagMs: int(doc, 'maxLagMs', 10, 3_600_000, CLUSTER_DEFAULTS.maxLagMs),
    scrubBytesPerSec: int(doc, 'scrubBytesPerSec', 0, Number.MAX_SAFE_INTEGER, CLUSTER_DEFAULTS.scrubBytesPerSec),
    scrubIntervalMs: int(doc, 'scrubIntervalMs', 100, 365 * 24 * 3600 * 1000, CLUSTER_DEFAULTS.scrubIntervalMs),
  };
}

/** Reads and validates a cluster file; INVALID_CLUSTER_CONFIG names the file when it cannot be read or parsed. */
export function loadClusterConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VcrError(ErrorCode.INVALID_CLUSTER_CONFIG, `cannot read cluster file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new VcrError(ErrorCode.INVALID_CLUSTER_CONFIG, `cluster file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseClusterConfig(doc);
}

/** Where node `n`'s replication server listens: `replicationListen`, else the advertised endpoint. */
export function replicationListenOf(n: ClusterNode): string {
  return n.replicationListen ?? n.replication;
}

/**
 * The local address this node's outbound peer connections bind to, so that whoever accepts
 * them (a peer, a firewall, a proxy) sees them come from this node's replication host: the
 * host this node listens on when that is a specific address. A wildcard listen binds nothing:
 * the advertised host may then be a NAT address that is not on this machine.
 */
export function replicationBindHostOf(n: ClusterNode): string | undefined {
  const host = parseEndpoint(replicationListenOf(n), { schemes: ['none'], what: 'replication endpoint' }).host;
  return host === '0.0.0.0' || /^[0:]+$/.test(host) ? undefined : host;
}

/** The entry of node `id`; UNKNOWN_NODE when the file has none. */
export function nodeOf(config: ClusterConfig, id: string): ClusterNode {
  const n = config.nodes.find((x) => x.id === id);
  if (!n) {
    throw new VcrError(ErrorCode.UNKNOWN_NODE, `node ${quoteForMessage(id, 64)} is not in the cluster file (nodes: ${config.nodes.map((x) => x.id).join(', ')})`);
  }
  return n;
}

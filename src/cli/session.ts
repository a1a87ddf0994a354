/**
 * Opens a client session for one command and always closes it. Per-attempt timeout and
 * attempts come from the client defaults (1,000 ms x 5) unless VCR_TIMEOUT_MS /
 * VCR_ATTEMPTS say otherwise (scripts on slow links, tests that want a quick TIMEOUT).
 */
import { ArchiveClient } from '../client/archive-client.js';
import { checkArchiver } from './args.js';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || !/^\d+$/.test(v) || Number(v) <= 0) return undefined;
  return Number(v);
}

export async function connectClient(archiver: string): Promise<ArchiveClient> {
  return ArchiveClient.connect({
    archiver: checkArchiver(archiver),
    timeoutMs: envInt('VCR_TIMEOUT_MS'),
    attempts: envInt('VCR_ATTEMPTS'),
    clientName: `vcr-cli-${process.pid}`,
  });
}

export async function withClient<T>(archiver: string, fn: (client: ArchiveClient) => Promise<T>): Promise<T> {
  const client = await connectClient(archiver);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/**
 * Opens a client session for one command and always closes it. Per-attempt timeout and
 * attempts come from the client defaults (1,000 ms x 5) unless VCR_TIMEOUT_MS /
 * VCR_ATTEMPTS say otherwise (scripts on slow links, tests that want a quick TIMEOUT).
 */
import { ArchiveClient } from '../client/archive-client.js';
import { checkArchiver } from './args.js';
import { interrupts } from './interrupt.js';

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

/**
 * Runs fn with a connected client and always closes it, also on Ctrl-C / SIGTERM: the signal
 * closes the session (after the cleanups fn registered itself, which run first), so whatever
 * fn awaits fails and the command ends.
 */
export async function withClient<T>(archiver: string, fn: (client: ArchiveClient) => Promise<T>): Promise<T> {
  const client = await connectClient(archiver);
  const off = interrupts.onInterrupt(() => client.close());
  try {
    return await fn(client);
  } finally {
    off();
    await client.close();
  }
}

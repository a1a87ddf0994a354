/**
 * What the figures were measured on: cores, CPU model, memory, kernel, Node version, date,
 * and the load average before and after the run (the development machine is shared, and a
 * busy minute moves absolute figures; the same-run baselines keep the ratios honest).
 */
import os from 'node:os';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  platform: string;
  node: string;
  date: string;
  loadAverageStart: number[];
  loadAverageEnd?: number[];
  durationSeconds?: number;
  /** version line of each peer program, or why it is missing */
  peers: Record<string, string>;
  quick: boolean;
}

export function describeMachine(quick: boolean): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverageStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    peers: {},
    quick,
  };
}

export function finishMachine(m: Machine, startedMs: number): void {
  m.loadAverageEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  m.durationSeconds = Math.round((Date.now() - startedMs) / 100) / 10;
}

/** `vcr cluster status`. */
import type { Command } from 'commander';
import { addArchiverOption, addJsonOption } from '../args.js';
import { printJson, printLine, table } from '../output.js';
import { withClient } from '../session.js';

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('cluster membership and replication');
  const status = cluster.command('status').description('nodes, copies and repair state');
  addJsonOption(addArchiverOption(status));
  status.action(async (o: { archiver: string; json?: boolean }) => {
    const s = await withClient(o.archiver, (c) => c.clusterStatus());
    if (o.json) {
      await printJson({ k: s.k, nodes: s.nodes, underReplicatedSegments: s.underReplicatedSegments, repairing: s.repairing, bytesToRepair: s.bytesToRepair });
      return;
    }
    await printLine(`k=${s.k}  under-replicated segments=${s.underReplicatedSegments}  repairing=${s.repairing ? 'yes' : 'no'}  bytes to repair=${s.bytesToRepair}`);
    const state = (n: (typeof s.nodes)[number]): string => (!n.up ? 'DOWN' : n.ready ? 'up' : 'joining');
    await printLine(
      table(
        ['NODE', 'STATE', 'SEGMENTS', 'BYTES', 'LAG BYTES', 'LAG MS'],
        s.nodes.map((n) => [n.id, state(n), String(n.segments), String(n.bytes), String(n.lagBytes), String(n.lagMs)]),
      ),
    );
  });
}

import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { taskResultSchema } from '../lib/task-result.ts';
import { fullVolid } from '../lib/cluster/volumes.ts';
import { defaultFilename, deleteVolume, download, guessContent, input, inspectVolume, needs, storageNode, type Input, actions } from '../lib/cluster/storage-ops.ts';

const changeActions = ['download', 'delete_volume'] as const;

export default defineTool({
  name: 'storage_change',
  title: 'Storage: download, delete volume',
  description: 'Download an ISO or container template by URL onto a storage, or delete a volume (not a protected one or a disk in use).',
  input: input
    .pick({ node: true, storage: true, content: true, url: true, filename: true, checksum: true, checksum_algorithm: true, verify_certificates: true, volume: true, wait: true, timeout: true })
    .extend({ action: z.enum(changeActions).describe('download | delete_volume') }),
  output: z.object({
    action: z.enum(actions),
    volume: z.string().optional(),
    task: taskResultSchema.optional(),
  }),
  effect: 'destructive',
  effectOf: (args) => (args.action === 'download' ? 'write' : 'destructive'),
  idempotent: false,
  roles: ['admin', 'operator'],
  openWorld: true,
  privileges: (args) => needs(args as Input),
  async explain(args, ctx): Promise<Plan> {
    const privileges = needs(args as Input);
    const storage = args.storage ?? '<storage>';
    const node = args.node ?? '{node}';
    if (args.action === 'download') {
      const filename = args.filename ?? (args.url ? defaultFilename(args.url) : undefined) ?? '<filename>';
      return {
        summary: `Download ${args.url ?? '<url>'} to ${storage} as ${filename}`,
        apiCalls: [`POST /nodes/${node}/storage/${storage}/download-url`],
        cliEquivalent: `pvesh create /nodes/${node}/storage/${storage}/download-url --url '${args.url ?? '<url>'}' --filename ${filename} --content ${args.content ?? guessContent(filename) ?? 'iso'}`,
        privileges,
        risk: 'low',
        reversible: true,
        undo: `storage_change action delete_volume storage ${storage} volume ${storage}:${args.content ?? guessContent(filename) ?? 'iso'}/${filename}`,
        warnings: [
          'The node fetches the URL from the internet (or your network); only use sources you trust.',
          ...(args.checksum ? [] : ['No checksum given: the download is not verified. Pass checksum and checksum_algorithm from the publisher.']),
          ...(args.verify_certificates ? [] : ['TLS certificates are NOT verified for this download.']),
        ],
      };
    }
    // Checked before anyone is asked: the volume exists, is not protected and is no disk in use.
    const warnings: string[] = [];
    const requests: Plan['requests'] = [];
    if (args.storage && args.volume) {
      const { node: where } = await storageNode(ctx, args.storage, args.node);
      const volid = fullVolid(args.storage, args.volume);
      // Judged by the API policy before anyone is asked (a protected guest's disk or backup is refused).
      requests.push({ method: 'DELETE', path: `/nodes/${encodeURIComponent(where)}/storage/${encodeURIComponent(args.storage)}/content/${encodeURIComponent(volid)}` });
      warnings.push(...(await inspectVolume(ctx, where, args.storage, volid)).warnings);
    }
    return {
      requests,
      summary: `Delete volume ${args.volume ?? '<volume>'} from storage ${storage}`,
      apiCalls: [`GET /nodes/${node}/storage/${storage}/content`, `DELETE /nodes/${node}/storage/${storage}/content/${args.volume ?? '{volume}'}`],
      cliEquivalent: `pvesm free ${args.storage && args.volume ? fullVolid(args.storage, args.volume) : '<volid>'}`,
      privileges,
      risk: 'high',
      reversible: false,
      warnings: ['The volume and its data are removed for good.', ...warnings],
    };
  },
  async run(args, ctx) {
    return args.action === 'download' ? download(args as Input, ctx) : deleteVolume(args as Input, ctx);
  },
});

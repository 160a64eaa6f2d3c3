import { defineTool } from '../lib/tool.ts';
import { configTool, input, type Input } from '../lib/guests/config-tool.ts';

export default defineTool({
  name: 'guest_config_get',
  title: 'Read a guest\'s config',
  description: 'Read a VM\'s or container\'s whole config (secrets masked) with a summary, pending changes and the digest for guest_config.',
  input: input.pick({ vmid: true, type: true, node: true }),
  output: configTool.output,
  effect: 'read',
  privileges: (value, ctx) => configTool.privileges!(value as Input, ctx),
  explain: (value, ctx) => configTool.explain!(value as Input, ctx),
  run: (value, ctx) => configTool.run(value as Input, ctx),
});

import { defineTool, type Effect } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { configTool, input, isRead, type Input } from '../lib/guests/config-tool.ts';

function changing(value: Input): Input {
  if (isRead(value)) {
    throw new ToolError('invalid_input', `Nothing to change for guest ${value.vmid}: give the settings to change (cores, memory, nets, resize, delete...). To read the config use guest_config_get.`);
  }
  return value;
}

export default defineTool({
  name: 'guest_config',
  title: 'Change a guest\'s config',
  description: 'Change a VM\'s or container\'s config (cores, memory, NICs, disk size, cloud-init, tags, boot, delete keys); digest refuses it over another edit.',
  input,
  output: configTool.output,
  effect: 'destructive',
  effectOf: (value) => (isRead(value) ? 'write' : (configTool.effectOf!(value) as Effect)),
  idempotent: false,
  privileges: (value, ctx) => configTool.privileges!(changing(value), ctx),
  explain: (value, ctx) => configTool.explain!(changing(value), ctx),
  run: (value, ctx) => configTool.run(changing(value), ctx),
});

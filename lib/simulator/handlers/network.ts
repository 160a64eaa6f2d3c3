/**
 * Node network configuration: changes are staged (interfaces.new) until applied with PUT /network (a task)
 * or dropped with DELETE /network, like pve-manager's Network.pm.
 */
import { splitList } from '../lists.ts';
import { die, paramError } from '../errors.ts';
import { Reply, type Handler, type HandlerContext } from '../core.ts';
import type { NetIface, SimNode } from '../state.ts';

const NOT_STORED = new Set(['node', 'iface', 'delete', 'digest']);

function staged(n: SimNode): Map<string, NetIface> {
  if (!n.stagedNetwork) n.stagedNetwork = new Map([...n.network].map(([k, v]) => [k, { ...v }]));
  return n.stagedNetwork;
}

function render(ifaces: Map<string, NetIface>): string {
  const lines: string[] = [];
  for (const i of [...ifaces.values()].sort((a, b) => Number(a.priority ?? 99) - Number(b.priority ?? 99))) {
    if (i.autostart) lines.push(`auto ${i.iface}`);
    lines.push(`iface ${i.iface} inet ${i.method ?? 'manual'}`);
    if (i.cidr) lines.push(`\taddress ${i.cidr}`);
    if (i.gateway) lines.push(`\tgateway ${i.gateway}`);
    if (i.bridge_ports !== undefined) lines.push(`\tbridge-ports ${i.bridge_ports || 'none'}`, `\tbridge-stp ${i.bridge_stp ?? 'off'}`, `\tbridge-fd ${i.bridge_fd ?? 0}`);
    if (i.bridge_vlan_aware) lines.push('\tbridge-vlan-aware yes', `\tbridge-vids ${i.bridge_vids ?? '2-4094'}`);
    if (i.slaves) lines.push(`\tbond-slaves ${i.slaves}`, `\tbond-mode ${i.bond_mode ?? 'balance-rr'}`);
    if (i['vlan-raw-device']) lines.push(`\tvlan-raw-device ${i['vlan-raw-device']}`);
    if (i.mtu) lines.push(`\tmtu ${i.mtu}`);
    lines.push('');
  }
  return lines.join('\n');
}

function diff(a: string, b: string): string {
  if (a === b) return '';
  const al = a.split('\n');
  const bl = b.split('\n');
  const out = ['--- /etc/network/interfaces', '+++ /etc/network/interfaces.new'];
  const as = new Set(al);
  const bs = new Set(bl);
  for (const l of al) if (!bs.has(l)) out.push(`-${l}`);
  for (const l of bl) if (!as.has(l)) out.push(`+${l}`);
  return out.join('\n') + '\n';
}

const TYPE_GROUPS: Record<string, (t: string) => boolean> = {
  any_bridge: (t) => t === 'bridge' || t === 'OVSBridge',
  any_local_bridge: (t) => t === 'bridge' || t === 'OVSBridge',
};

function ifaceFromParams(ctx: HandlerContext, base: NetIface): NetIface {
  const out: NetIface = { ...base };
  for (const [k, v] of Object.entries(ctx.params)) if (!NOT_STORED.has(k)) out[k] = v;
  if (out.cidr) {
    const [addr, mask] = String(out.cidr).split('/');
    out.address = addr;
    out.netmask = mask;
    out.method = 'static';
  } else if (out.address && out.netmask) {
    out.cidr = `${out.address}/${out.netmask}`;
    out.method = 'static';
  }
  out.method ??= 'manual';
  out.method6 ??= 'manual';
  out.families ??= ['inet'];
  for (const k of splitList(ctx.params.delete)) delete out[k];
  return out;
}

export const networkHandlers: Record<string, Handler> = {
  'GET /nodes/{node}/network': (ctx) => {
    const n = ctx.core.node(String(ctx.params.node));
    const view = n.stagedNetwork ?? n.network;
    const type = ctx.params.type as string | undefined;
    const rows = [...view.values()]
      .filter((i) => i.type !== 'loopback')
      .filter((i) => !type || (TYPE_GROUPS[type] ? TYPE_GROUPS[type](i.type) : i.type === type))
      .map((i) => {
        const live = n.network.get(i.iface);
        const row: Record<string, unknown> = { ...i };
        delete row.priority;
        row.active = live ? 1 : 0;
        return row;
      });
    const changes = n.stagedNetwork ? diff(render(n.network), render(n.stagedNetwork)) : '';
    return changes ? new Reply(rows, { changes }) : rows;
  },

  'GET /nodes/{node}/network/{iface}': (ctx) => {
    const n = ctx.core.node(String(ctx.params.node));
    const i = (n.stagedNetwork ?? n.network).get(String(ctx.params.iface));
    if (!i) die('interface does not exist');
    const row: Record<string, unknown> = { ...i, method: i.method ?? 'manual' };
    delete row.priority;
    return row;
  },

  'POST /nodes/{node}/network': (ctx) => {
    const n = ctx.core.node(String(ctx.params.node));
    const iface = String(ctx.params.iface);
    const cfg = staged(n);
    if (cfg.has(iface)) paramError({ iface: 'interface already exists' });
    const type = String(ctx.params.type);
    if (type === 'vlan' && !/\.\d+$/.test(iface) && !ctx.params['vlan-raw-device']) paramError({ 'vlan-raw-device': 'vlan-raw-device is required' });
    if (type === 'bridge') for (const p of splitList(ctx.params.bridge_ports)) {
      if (!cfg.has(p)) paramError({ bridge_ports: `bridge port '${p}' does not exist` });
    }
    cfg.set(iface, ifaceFromParams(ctx, { iface, type, autostart: 1, priority: 50 + cfg.size }));
    return null;
  },

  'PUT /nodes/{node}/network/{iface}': (ctx) => {
    const n = ctx.core.node(String(ctx.params.node));
    const iface = String(ctx.params.iface);
    const cfg = staged(n);
    const cur = cfg.get(iface);
    if (!cur) paramError({ iface: 'interface does not exist' });
    if (cur.type !== ctx.params.type) paramError({ type: `unable to change interface type from '${cur.type}' to '${ctx.params.type}'` });
    cfg.set(iface, ifaceFromParams(ctx, cur));
    return null;
  },

  'DELETE /nodes/{node}/network/{iface}': (ctx) => {
    const n = ctx.core.node(String(ctx.params.node));
    const cfg = staged(n);
    if (!cfg.delete(String(ctx.params.iface))) paramError({ iface: 'interface does not exist' });
    return null;
  },

  'PUT /nodes/{node}/network': (ctx) => {
    const n = ctx.core.node(String(ctx.params.node));
    return ctx.core.task(ctx, {
      type: 'srvreload', id: 'networking',
      work: () => {
        if (n.stagedNetwork) n.network = n.stagedNetwork;
        n.stagedNetwork = null;
      },
    });
  },

  'DELETE /nodes/{node}/network': (ctx) => {
    ctx.core.node(String(ctx.params.node)).stagedNetwork = null;
    return null;
  },
};

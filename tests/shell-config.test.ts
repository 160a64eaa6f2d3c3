/**
 * SSH_USER=root is refused unless MCP_ALLOW_ROOT_SSH says so by name: as root, host commands would pass
 * the sudo allow-list setup.sh installs and every file permission.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config.ts';

describe('SSH as root', () => {
  it.each(['root', ' root', '0'])('refuses SSH_USER=%j without MCP_ALLOW_ROOT_SSH', (user) => {
    expect(() => loadConfig({ SSH_USER: user }, { envFile: null })).toThrow(ConfigError);
    expect(() => loadConfig({ SSH_USER: user }, { envFile: null })).toThrow(/SSH_USER.*root.*MCP_ALLOW_ROOT_SSH/s);
  });

  it.each(['0', 'false', 'no'])('still refuses with MCP_ALLOW_ROOT_SSH=%s', (value) => {
    expect(() => loadConfig({ SSH_USER: 'root', MCP_ALLOW_ROOT_SSH: value }, { envFile: null })).toThrow(ConfigError);
  });

  it('accepts it when asked for by name, and says so in the config', () => {
    const config = loadConfig({ SSH_USER: 'root', MCP_ALLOW_ROOT_SSH: '1' }, { envFile: null });
    expect(config.ssh.user).toBe('root');
    expect(config.ssh.allowRoot).toBe(true);
  });

  it('the restricted user needs nothing', () => {
    expect(loadConfig({}, { envFile: null }).ssh.user).toBe('proxmox-mcp');
    expect(loadConfig({ SSH_USER: 'rooty' }, { envFile: null }).ssh.user).toBe('rooty');
  });
});

/** MCP features beyond tools (resources, prompts), registered on every per-request server instance. */
import type { McpExtension } from './mcp.ts';
import { registerResources } from '../resources/index.ts';
import { registerPrompts } from '../prompts/index.ts';

export const mcpExtensions: McpExtension[] = [registerResources, registerPrompts];

import { userChangeTool } from '../lib/cluster/access-tool.ts';

export default userChangeTool;

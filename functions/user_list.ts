import { userListTool } from '../lib/cluster/access-tool.ts';

export default userListTool;

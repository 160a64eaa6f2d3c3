/**
 * root@pam: not modified, disabled, deleted, re-created; no password, second factor, token, group or ACL
 * change; its realm (pam) is not changed. Ids are compared case-insensitively and as list items, so
 * `ROOT@PAM`, `alice@pve\0root@pam` and `root@pam!tok` all count.
 */
import { paramItems, type NormalizedRequest } from '../normalize.ts';
import { protectedUser, refuse, type PolicyRule } from './common.ts';

const isRoot = (item: string) => item === protectedUser || item.split('!')[0] === protectedUser;

function check(req: NormalizedRequest): void {
  const [first, second, third] = req.segments;
  if (first !== 'access') return;
  const named = (name: string) => paramItems(req, name).some(isRoot);
  if (second === 'users' && third !== undefined && isRoot(third)) refuse('root@pam is protected: it cannot be modified, disabled, deleted, or have its tokens changed through this server.');
  if (second === 'users' && !third && named('userid')) refuse('root@pam is protected and cannot be (re)created or changed through this server.');
  if (second === 'password' && named('userid')) refuse('The password of root@pam is protected and cannot be changed through this server.');
  if (second === 'tfa' && ((third !== undefined && isRoot(third)) || named('userid'))) refuse('The second factors of root@pam are protected.');
  if (second === 'acl' && (named('users') || named('tokens'))) refuse('ACLs of root@pam (and its tokens) are protected and cannot be changed through this server.');
  if (second === 'groups' && named('users')) refuse('Group membership of root@pam is protected.');
  if (second === 'domains' && third === 'pam') refuse('The pam realm holds root@pam and is protected.');
}

export const rootPamRule: PolicyRule = { name: 'root@pam', check };

/**
 * proxmox://best-practices/{topic}: one best-practice topic from the knowledge base, as Markdown (it is
 * read by people in the client as much as by the agent). Static data, so it caches well.
 */
import { ToolError } from '../errors.ts';
import type { Knowledge, Topic } from '../knowledge.ts';

export const bestPracticesTemplate = 'proxmox://best-practices/{topic}';

export function bestPracticesUri(topic: string): string {
  return `proxmox://best-practices/${encodeURIComponent(topic)}`;
}

export function renderTopic(topic: Topic, knowledge: Knowledge): string {
  const lines: string[] = [`# ${topic.title}`, '', `_Applies to: ${topic.appliesTo}_`, '', topic.summary, ''];
  for (const practice of topic.practices) {
    lines.push(`## ${practice.title}`, '', practice.why, '');
    for (const step of practice.how) lines.push(`- ${step}`);
    if (practice.commands?.length) lines.push('', 'Commands:', '', '```sh', ...practice.commands, '```');
    if (practice.api?.length) lines.push('', `API: ${practice.api.map((call) => `\`${call}\``).join(', ')}`);
    lines.push('');
  }
  lines.push('## Common mistakes', '', ...topic.mistakes.map((mistake) => `- ${mistake}`), '');
  if (topic.checks.length) {
    const described = new Map(knowledge.checks().map((check) => [check.id, check.description]));
    lines.push('## Checks', '', `Run them against the cluster with the best_practices tool (topic "${topic.id}").`, '');
    for (const check of topic.checks) lines.push(`- \`${check.id}\`: ${described.get(check.id) ?? ''}${check.why ? ` ${check.why}` : ''}`);
    lines.push('');
  }
  if (topic.related?.length) lines.push(`Related: ${topic.related.map((id) => bestPracticesUri(id)).join(', ')}`, '');
  return lines.join('\n');
}

export function readTopic(knowledge: Knowledge | undefined, id: string): string {
  if (!knowledge) throw new ToolError('unavailable', 'The knowledge base is not loaded on this server, so no best-practice topic can be read.');
  const topic = knowledge.topic(id);
  if (!topic) {
    const known = knowledge.topics().map((t) => t.id);
    throw new ToolError('not_found', `No best-practice topic '${id}'. Topics: ${known.join(', ') || 'none'}.`);
  }
  return renderTopic(topic, knowledge);
}

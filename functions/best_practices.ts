import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { loadKnowledge, type Knowledge } from '../lib/knowledge.ts';
import { runChecks } from '../lib/best-practice-checks.ts';

/** The topic ids, read once when the tool is loaded, so clients see them as a list to choose from. */
function topicIds(): [string, ...string[]] | undefined {
  try {
    const ids = loadKnowledge().topics().map((topic) => topic.id);
    return ids.length ? (ids as [string, ...string[]]) : undefined;
  } catch {
    return undefined;
  }
}
const ids = topicIds();

const checkResult = z.object({
  id: z.string(),
  status: z.enum(['pass', 'warn', 'fail', 'not_checked', 'error']),
  summary: z.string(),
  items: z.array(z.string()),
  why: z.string().optional(),
});

const practice = z.object({ title: z.string(), why: z.string(), how: z.array(z.string()), commands: z.array(z.string()).optional(), api: z.array(z.string()).optional() });

export default defineTool({
  name: 'best_practices',
  title: 'Best practices, checked here',
  description: 'Proxmox VE guidance on a topic (backups, storage, ZFS, networking, security, API tokens, HA...) and how this cluster measures up.',
  input: z.object({
    topic: (ids ? z.enum(ids) : z.string().max(64)).optional().describe('None: the list'),
    check: z.boolean().default(true).describe('Check this cluster against it'),
  }),
  output: z.object({
    topics: z.array(z.object({ id: z.string(), title: z.string(), summary: z.string(), checks: z.array(z.string()) })).optional(),
    topic: z
      .object({
        id: z.string(),
        title: z.string(),
        applies_to: z.string(),
        summary: z.string(),
        practices: z.array(practice),
        mistakes: z.array(z.string()),
        related: z.array(z.string()),
      })
      .optional(),
    checks: z.array(checkResult).optional(),
    findings: z.array(z.string()).optional(),
  }),
  effect: 'read',
  async run(input, ctx) {
    const knowledge: Knowledge = ctx.services.knowledge ?? loadKnowledge();
    if (!input.topic) {
      const topics = knowledge.topics();
      return {
        data: { topics },
        summary: `${topics.length} topics: ${topics.map((topic) => topic.id).join(', ')}`,
        suggestions: ['Call best_practices with one of these topics to get its guidance and check the cluster against it.'],
      };
    }
    const topic = knowledge.topic(input.topic);
    if (!topic) {
      throw new ToolError('not_found', `There is no best-practice topic "${input.topic}". Topics: ${knowledge.topics().map((t) => t.id).join(', ')}.`);
    }
    const checks = input.check ? await runChecks(topic.checks, ctx.pve, { signal: ctx.signal }) : [];
    const findings = checks.filter((check) => check.status === 'fail' || check.status === 'warn').map((check) => check.summary);
    const failing = checks.filter((check) => check.status === 'fail').length;
    const checked = checks.filter((check) => check.status !== 'not_checked').length;
    return {
      data: {
        topic: {
          id: topic.id,
          title: topic.title,
          applies_to: topic.appliesTo,
          summary: topic.summary,
          practices: topic.practices,
          mistakes: topic.mistakes,
          related: topic.related ?? [],
        },
        checks,
        findings,
      },
      summary: input.check
        ? `${topic.title}: ${checked} checks run, ${failing} failing, ${findings.length - failing} warnings${checks.length > checked ? `, ${checks.length - checked} not checkable here` : ''}`
        : `${topic.title}: ${topic.practices.length} practices`,
      warnings: findings,
      suggestions: (topic.related ?? []).length ? [`Related topics: ${(topic.related ?? []).join(', ')}.`] : [],
    };
  },
});

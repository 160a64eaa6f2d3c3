/** The response envelope as a zod schema: the MCP outputSchema and the OpenAPI response of every tool. */
import { z } from 'zod';

export function envelopeSchema(data: z.ZodType) {
  return z.object({
    success: z.boolean(),
    data: data.nullable(),
    stdout: z.string().optional(),
    stderr: z.string().optional(),
    execution_time: z.number().describe('milliseconds'),
    timestamp: z.string(),
    mode: z.enum(['read-only', 'safe', 'normal']),
    explanation: z.string().optional(),
    warnings: z.array(z.string()),
    suggestions: z.array(z.string()),
    error: z
      .object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() })
      .optional(),
    learning: z
      .object({ explanation: z.string(), cli_equivalent: z.string().optional(), next: z.array(z.string()).optional() })
      .optional(),
  });
}

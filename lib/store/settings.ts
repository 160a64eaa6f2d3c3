/** Small server-wide settings as JSON values. */
import { eq } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import { settings } from '../../db/schema.ts';

export class SettingsRepo {
  constructor(private readonly db: LibSQLDatabase) {}

  async get<T>(key: string): Promise<T | undefined> {
    const [row] = await this.db.select().from(settings).where(eq(settings.key, key)).limit(1);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    await this.db
      .insert(settings)
      .values({ key, value: json, updatedAt: Date.now() })
      .onConflictDoUpdate({ target: settings.key, set: { value: json, updatedAt: Date.now() } });
  }

  async all(): Promise<Record<string, unknown>> {
    const rows = await this.db.select().from(settings);
    return Object.fromEntries(rows.map((row) => [row.key, JSON.parse(row.value)]));
  }
}

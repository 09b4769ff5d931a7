import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

export interface AdminKey {
  readonly key: string;
  /** Where it came from: the environment, or the file that keeps it. */
  readonly source: string;
}

/**
 * ADMIN_API_KEY when set; otherwise a key generated once per data directory and kept
 * there (mode 0600), so restarts and every process sharing that DATA_DIR agree on it.
 */
export async function resolveAdminKey(
  configured: string | undefined,
  dataDir: string,
): Promise<AdminKey> {
  if (configured) return { key: configured, source: 'ADMIN_API_KEY' };
  const file = path.join(dataDir, 'admin-api-key');
  await mkdir(dataDir, { recursive: true });
  try {
    // 'wx': of two processes starting at once, one writes and both read the same key.
    writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 16)
    throw new Error(`${file} holds no valid admin key (delete it to make a new one)`);
  return { key, source: file };
}

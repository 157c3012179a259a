// The public development set: `shared/dev-descriptions.json` beside the repository when it is
// there (it may be newer), else the copy committed in crates/planner/tests/.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type DevCase = { id: string; description: string };

export function devSet(): DevCase[] {
  const shared = join(__dirname, '../../../shared/dev-descriptions.json');
  const copy = join(__dirname, '../../crates/planner/tests/dev-descriptions.json');
  return JSON.parse(readFileSync(existsSync(shared) ? shared : copy, 'utf8')).cases;
}

export function devDescription(id: string): string {
  const found = devSet().find((c) => c.id === id);
  if (!found) throw new Error(`no ${id} in the dev set`);
  return found.description;
}

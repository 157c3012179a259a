// Reads the mail the server writes, one RFC 5322 file per message, into
// `${KILN_E2E_DATA_DIR}/outbox/NNNNNNNNNN.eml` (written as a dot-file, then renamed).

import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

const POLL_MS = 200;

function outboxDir(): string {
  const dataDir = process.env.KILN_E2E_DATA_DIR;
  if (!dataDir) {
    throw new Error(
      'KILN_E2E_DATA_DIR is not set: point it at the data directory of the server under test ' +
        '(its mail is read from $KILN_E2E_DATA_DIR/outbox)',
    );
  }
  return path.join(dataDir, 'outbox');
}

/** The outbox's finished .eml files, oldest first (names are zero-padded ids). */
async function mailFiles(): Promise<string[]> {
  const dir = outboxDir();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .filter((n) => !n.startsWith('.') && !n.endsWith('.tmp') && n.endsWith('.eml'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** The value of the `To:` header (folded lines joined), or '' if there is none. */
function toHeader(message: string): string {
  const end = message.search(/\r?\n\r?\n/);
  const head = (end === -1 ? message : message.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => /^to:/i.test(l));
  return line ? line.slice(3).trim() : '';
}

/** The texts of the messages sent to `email`, oldest first. */
export async function mailsTo(email: string): Promise<string[]> {
  const wanted = email.toLowerCase();
  const out: string[] = [];
  for (const file of await mailFiles()) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    if (toHeader(text).toLowerCase().includes(wanted)) out.push(text);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function findLink(message: string, pathPrefix: string): string | undefined {
  const re = new RegExp(`^https?:\\/\\/\\S+${escapeRegExp(pathPrefix)}\\S+$`);
  for (const raw of message.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (re.test(line)) return line;
  }
  return undefined;
}

/** How many messages have been sent to `email` so far. */
export async function countMails(email: string): Promise<number> {
  return (await mailsTo(email)).length;
}

/**
 * Waits until a message to `email` holds a link (alone on its line) whose path starts with
 * `pathPrefix`, and returns the link of the newest such message.
 */
export async function waitForLink(
  email: string,
  pathPrefix = '/verify?token=',
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await mailsTo(email);
    for (let i = mails.length - 1; i >= 0; i--) {
      const link = findLink(mails[i], pathPrefix);
      if (link) return link;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `no mail to ${email} with a "${pathPrefix}" link in ${outboxDir()} after ${timeoutMs} ms ` +
          `(${mails.length} mail(s) to that address)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A fresh address for one test, e.g. `journey-1718000000000-k3j9x2@example.com`. */
export function uniqueEmail(tag: string): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `${tag}-${Date.now()}-${random}@example.com`;
}

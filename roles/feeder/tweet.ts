// Tweets as sources deliver them (Twitter API v2 filtered-stream lines, or v1.1 status objects) converted to
// the protocol's tweet shape.
import type { Tweet } from '../../protocol/messages.ts';

export type ParsedTweet = { ok: true; tweet: Tweet; text: string } | { ok: false; reason: string };

interface V2User {
  id?: string;
  name?: string;
  username?: string;
}

const str = (v: unknown): v is string => typeof v === 'string';

/** ISO date of a v2 `created_at` (already ISO) or a v1.1 one ("Wed Oct 10 20:19:24 +0000 2018"). */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;

function isoDate(v: unknown, fallback: number): string {
  if (str(v)) {
    if (ISO_UTC.test(v)) return v; // the v2 stream's own format: keep it as sent
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  return new Date(fallback).toISOString();
}

/** The protocol tweet of one delivered object; `now` stands in for a missing `created_at`. */
export function toTweet(obj: unknown, now: number): ParsedTweet {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const o = obj as Record<string, unknown>;
  // v2: {"data": {...}, "includes": {"users": [...]}}
  if (typeof o.data === 'object' && o.data !== null) {
    const d = o.data as Record<string, unknown>;
    if (!str(d.id) || !str(d.text)) return { ok: false, reason: 'v2 tweet without data.id/data.text' };
    const users = ((o.includes as { users?: V2User[] } | undefined)?.users ?? []) as V2User[];
    const author = Array.isArray(users) ? users.find((u) => u?.id === d.author_id) : undefined;
    const screen = str(author?.username) ? author.username : str(d.author_id) ? d.author_id : 'unknown';
    return {
      ok: true,
      text: d.text,
      tweet: {
        id: d.id,
        text: d.text,
        created_at: isoDate(d.created_at, now),
        user: { name: str(author?.name) ? author.name : screen, screen_name: screen },
      },
    };
  }
  // v1.1 status: {"id_str", "text" | "full_text" | "extended_tweet.full_text", "user": {...}}
  if (str(o.id_str) || typeof o.id === 'number') {
    const ext = o.extended_tweet as { full_text?: unknown } | undefined;
    const text = str(ext?.full_text) ? ext.full_text : str(o.full_text) ? o.full_text : o.text;
    if (!str(text)) return { ok: false, reason: 'v1.1 status without text' };
    const u = (o.user ?? {}) as { name?: unknown; screen_name?: unknown };
    const screen = str(u.screen_name) ? u.screen_name : 'unknown';
    return {
      ok: true,
      text,
      tweet: {
        id: str(o.id_str) ? o.id_str : String(o.id),
        text,
        created_at: isoDate(o.created_at, now),
        user: { name: str(u.name) ? u.name : screen, screen_name: screen },
      },
    };
  }
  if (Array.isArray(o.errors)) return { ok: false, reason: 'an error payload, not a tweet' };
  return {
    ok: false,
    reason: 'neither a v2 stream line ({"data": ...}) nor a v1.1 status ({"id_str": ...})',
  };
}

/** created_at (ms) of a delivered object, for replay pacing; undefined when absent. */
export function createdAtMs(obj: unknown): number | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const o = obj as { data?: { created_at?: unknown }; created_at?: unknown };
  const v = o.data?.created_at ?? o.created_at;
  if (!str(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

import type { Conversation, Message } from '../../../core/conversations/model.js';
import type { LobbyMessage } from '../../../core/lobby.js';
import type { Profile } from '../../../core/profiles/service.js';
import type { ListedTrigger } from '../../../core/triggers/model.js';
import type { WebhookView } from '../../../core/webhooks/service.js';
import type { ApiError } from '../../errors.js';

/** The document's error body: `{error: true, code, message, details?}`. */
export function bambisleepError({ code, message, details }: Pick<ApiError, 'code' | 'message' | 'details'>) {
  return details ? { error: true as const, code, message, details } : { error: true as const, code, message };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function profileView(profile: Profile) {
  return { ...profile, createdAt: iso(profile.createdAt) };
}

export function triggerView({ id, name, description, isPublic, creator }: ListedTrigger) {
  return { id, name, description, isPublic, creator };
}

export function sessionSummary({ id, createdAt, messageCount }: Conversation) {
  return { id, createdAt: iso(createdAt), messageCount };
}

export function sessionView(session: Conversation, messages: readonly Message[]) {
  return {
    id: session.id,
    createdAt: iso(session.createdAt),
    messages: messages.map(({ role, content, createdAt }) => ({ role, content, timestamp: iso(createdAt) })),
  };
}

export function webhookView({ id, url, events, active, createdAt }: WebhookView) {
  return { id, url, events, active, createdAt: iso(createdAt) };
}

/** A lobby message as the document's `message` frame. */
export function lobbyFrame({ username, content, createdAt }: LobbyMessage): string {
  return JSON.stringify({ type: 'message', username, content, timestamp: iso(createdAt) });
}

export function errorFrame({ code, message, details }: Pick<ApiError, 'code' | 'message' | 'details'>): string {
  return JSON.stringify(details ? { type: 'error', code, message, details } : { type: 'error', code, message });
}

import type { Generated } from 'kysely';
import type { ApiKey } from '../core/accounts/model.js';
import type { StoredFile } from '../core/files/model.js';
import type { UsageRecord } from '../core/usage.js';

/**
 * Row shapes as Kysely sees them (camelCase; the CamelCasePlugin maps to snake_case columns).
 * Booleans are stored as 0/1 integers and times as integer milliseconds on both databases.
 */
export interface Tables {
  users: UsersTable;
  apiKeys: ApiKeysTable;
  instanceFlags: InstanceFlagsTable;
  channels: ChannelsTable;
  usageRecords: UsageRecordsTable;
  revokedSessions: RevokedSessionsTable;
  bots: BotsTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  files: FilesTable;
  messageFiles: MessageFilesTable;
  feedback: FeedbackTable;
  outboxEvents: OutboxEventsTable;
  webhooks: WebhooksTable;
  webhookDeliveries: WebhookDeliveriesTable;
  webhookAttempts: WebhookAttemptsTable;
  groups: GroupsTable;
  groupMembers: GroupMembersTable;
  triggers: TriggersTable;
  conversationTriggers: ConversationTriggersTable;
}

export interface TriggersTable {
  id: string;
  creatorId: string;
  name: string;
  description: string;
  content: string;
  isPublic: number;
  createdAt: number;
  updatedAt: number;
}

export interface ConversationTriggersTable {
  conversationId: string;
  triggerId: string;
  activatedAt: number;
}

export interface GroupsTable {
  id: string;
  name: string;
  ownerId: string;
  botId: string | null;
  conversationId: string;
  replyPolicy: string;
  prefix: string | null;
  isolation: string;
  inviteCodeHash: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface GroupMembersTable {
  groupId: string;
  userId: string;
  role: string;
  joinedAt: number;
}

/** Events waiting for (or done with) their webhook deliveries; see core/events.ts. */
export interface OutboxEventsTable {
  id: string;
  type: string;
  /** JSON array of user ids. */
  audience: string;
  /** JSON object. */
  payload: string;
  createdAt: number;
  dispatchedAt: number | null;
}

export interface WebhooksTable {
  id: string;
  ownerId: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  sealedSecret: string;
  active: number;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhookId: string;
  eventId: string;
  event: string;
  /** JSON object. */
  payload: string;
  eventCreatedAt: number;
  status: string;
  attemptCount: number;
  nextAttemptAt: number | null;
  /** The instance that claimed the delivery owns it until then. */
  lockedUntil: number | null;
  createdAt: number;
  completedAt: number | null;
}

export interface WebhookAttemptsTable {
  id: string;
  deliveryId: string;
  attemptedAt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface BotsTable {
  id: string;
  name: string;
  displayName: string;
  description: string;
  avatarUrl: string | null;
  systemPrompt: string;
  /** JSON array of BotVariable. */
  variables: string;
  model: string | null;
  /** JSON GenerationParams. */
  params: string;
  /** JSON array of BotCommand. */
  commands: string;
  visibility: string;
  kind: string;
  ownerId: string | null;
  webhookUrl: string | null;
  keyHash: string | null;
  /** Only external bots have one. */
  sealedSigningSecret?: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ConversationsTable {
  id: string;
  ownerId: string;
  botId: string | null;
  groupId: string | null;
  title: string | null;
  model: string | null;
  systemPrompt: string | null;
  /** JSON object of variable values. */
  variables: string;
  contextClearedAt: number | null;
  endUserId: string | null;
  endGroupId: string | null;
  threadKey: string | null;
  messageCount: number;
  lastMessageId: string | null;
  lastMessagePreview: string | null;
  lastMessageAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface MessagesTable {
  id: string;
  conversationId: string;
  senderId: string | null;
  role: string;
  content: string;
  /** JSON array of file ids. */
  attachments: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  status: string;
  /** JSON {code, message}. */
  error: string | null;
  parentId: string | null;
  clientId: string | null;
  deltaCount: Generated<number>;
  createdAt: number;
  updatedAt: number;
}

/** Files are stored exactly as the core models them. */
export type FilesTable = StoredFile;

export interface MessageFilesTable {
  messageId: string;
  fileId: string;
  conversationId: string;
}

export interface FeedbackTable {
  id: string;
  messageId: string;
  conversationId: string;
  userId: string;
  type: string;
  value: number;
  comment: string | null;
  createdAt: number;
  updatedAt: number;
}

/** Sessions ended by logout, kept until no token of theirs can still be valid. */
export interface RevokedSessionsTable {
  sessionId: string;
  expiresAt: number;
}

export interface ChannelsTable {
  id: string;
  name: string;
  provider: string;
  baseUrl: string;
  /** JSON array of sealed keys. */
  sealedApiKeys: string;
  /** JSON array of model ids. */
  models: string;
  priority: number;
  weight: number;
  strategy: string;
  enabled: number;
  dailyQuota: number;
  createdAt: number;
  updatedAt: number;
}

/** Usage records are stored exactly as the core models them. */
export type UsageRecordsTable = UsageRecord;

export interface UsersTable {
  id: string;
  username: string;
  passwordHash: string;
  displayName: string;
  avatarUrl: string | null;
  isPublic: number;
  role: string;
  tier: string;
  xp: Generated<number>;
  level: Generated<number>;
  disabled: Generated<number>;
  sessionsValidAfter: Generated<number>;
  createdAt: number;
  updatedAt: number;
}

/** Keys are stored exactly as the core models them. */
export type ApiKeysTable = ApiKey;

/** One-time facts about this installation, e.g. that the first admin has been claimed. */
export interface InstanceFlagsTable {
  name: string;
  createdAt: number;
}

import type { Config } from '../config/schema.js';
import { ApiKeyService } from './accounts/api-keys.js';
import { Gatekeeper } from './accounts/admission.js';
import { Authenticator } from './accounts/authenticate.js';
import { PasswordGuard } from './accounts/password-guard.js';
import { ProfileService } from './profiles/service.js';
import type { TriggerRepository } from './triggers/model.js';
import { TriggerService } from './triggers/service.js';
import type { AccountChanges, ApiKeyRepository, UserRepository } from './accounts/model.js';
import type { PasswordHasher, SessionRevocations, SessionTokens } from './accounts/ports.js';
import { SessionService } from './accounts/sessions.js';
import { UserService } from './accounts/users.js';
import type { BotRepository } from './bots/model.js';
import { BotKeys } from './bots/keys.js';
import { BotService } from './bots/service.js';
import type { ModelGateway } from './chat-model.js';
import type { ChannelRepository, SecretBox } from './channels/ports.js';
import { ChannelService, type ChannelView } from './channels/service.js';
import { CompletionService } from './completions.js';
import { ConversationAccess } from './conversations/access.js';
import { ChatSessions } from './conversations/chat-sessions.js';
import { FeedbackService } from './conversations/feedback.js';
import type { ConversationRepository } from './conversations/model.js';
import { BotReplies } from './conversations/bot-replies.js';
import { ReplyService } from './conversations/replies.js';
import { ConversationService } from './conversations/service.js';
import type { TokenCounter } from './context-window.js';
import type { BlobStore, FileRepository } from './files/model.js';
import type { GroupRepository } from './groups/model.js';
import { GroupService } from './groups/service.js';
import type { SearchRepository } from './search/model.js';
import { SearchService } from './search/service.js';
import { FileService } from './files/service.js';
import { LobbyService } from './lobby.js';
import { QuotaService } from './quotas.js';
import { RealtimeService } from './realtime.js';
import type { SharedState } from './shared-state.js';
import { SpeechService, type SpeechEngines } from './speech.js';
import { SpokenFiles } from './spoken-files.js';
import { UsageService, type UsageRepository } from './usage.js';
import { DomainEventPublisher } from './events.js';
import { createWebhooks } from './webhooks/index.js';
import type { WebhookRepository, WebhookTransport } from './webhooks/model.js';
import type { WebhookService } from './webhooks/service.js';
import type { WebhookWorker } from './webhooks/worker.js';

export interface CorePorts {
  users: UserRepository;
  apiKeys: ApiKeyRepository;
  accountChanges: AccountChanges;
  passwords: PasswordHasher;
  sessionTokens: SessionTokens;
  sessionRevocations: SessionRevocations;
  shared: SharedState;
  channels: ChannelRepository;
  usage: UsageRepository;
  bots: BotRepository;
  conversations: ConversationRepository;
  groups: GroupRepository;
  files: FileRepository;
  search: SearchRepository;
  blobs: BlobStore;
  secretBox: SecretBox;
  webhooks: WebhookRepository;
  webhookTransport: WebhookTransport;
  triggers: TriggerRepository;
  gateway: ModelGateway;
  tokenCounter: () => TokenCounter;
  channelHealth: (channelId: string) => ChannelView['health'];
  /** Tells routing on every instance that channels changed. */
  channelsChanged: () => Promise<void>;
  /** Where failures of work done off the request path are reported. */
  onBackgroundError: (err: unknown) => void;
  /** The configured speech providers. */
  speech: SpeechEngines;
}

/** The domain services every surface calls. */
export interface Core {
  users: UserService;
  sessions: SessionService;
  apiKeys: ApiKeyService;
  gatekeeper: Gatekeeper;
  channels: ChannelService;
  completions: CompletionService;
  usage: UsageService;
  bots: BotService;
  botKeys: BotKeys;
  files: FileService;
  conversations: ConversationService;
  replies: ReplyService;
  botReplies: BotReplies;
  feedback: FeedbackService;
  search: SearchService;
  realtime: RealtimeService;
  groups: GroupService;
  webhooks: WebhookService;
  profiles: ProfileService;
  triggers: TriggerService;
  /** Conversations as sessions, for surfaces whose clients send prompts without naming one. */
  chatSessions: ChatSessions;
  lobby: LobbyService;
  /** Sends webhook deliveries; only a serving process starts it. */
  webhookWorker: WebhookWorker;
  speech: SpeechService;
  spokenFiles: SpokenFiles;
}

const MAX_BOTS_PER_USER = 100;

export function createCore(config: Config, ports: CorePorts): Core {
  const guard = new PasswordGuard(ports.passwords, ports.shared.limiter, {
    perUsername: config.loginThrottle.perUsername,
    perIp: config.loginThrottle.perIp,
    windowMs: config.loginThrottle.windowSeconds * 1000,
  });
  const users = new UserService(ports.users, ports.passwords, guard, {
    allowRegistration: config.allowRegistration,
    defaultTier: 'free',
  });
  const sessions = new SessionService(ports.users, guard, ports.sessionTokens, ports.sessionRevocations, {
    lifetimeMs: config.session.lifetimeSeconds * 1000,
  });
  const apiKeys = new ApiKeyService(ports.apiKeys, ports.accountChanges, ports.onBackgroundError);
  const usage = new UsageService(ports.usage);
  const events = new DomainEventPublisher(ports.shared.bus, ports.onBackgroundError);
  const completions = new CompletionService(
    ports.gateway,
    usage,
    config.tiers,
    ports.tokenCounter,
    ports.onBackgroundError,
  );
  // External bots' deliveries follow their bot: created with its key, moved with its URL, gone with it.
  const bots: BotService = new BotService(ports.bots, {
    maxPerUser: MAX_BOTS_PER_USER,
    checkWebhookUrl: (url) => webhooks.service.checkBotUrl(url),
    onChange: (bot, deleted) => botKeys.syncEndpoint(bot, deleted),
  });
  const files = new FileService(ports.files, ports.blobs, config.files);
  const access = new ConversationAccess(ports.conversations, ports.groups);
  const triggers = new TriggerService(ports.triggers, access, events);
  const profiles = new ProfileService(ports.users, users, triggers, events, config.profiles.levelThresholds);
  const replies = new ReplyService({
    repo: ports.conversations,
    access,
    groups: ports.groups,
    bots,
    files,
    completions,
    streams: ports.shared.streams,
    bus: ports.shared.bus,
    events,
    tokens: ports.tokenCounter,
    triggers,
    profiles,
    chat: config.chat,
    singleInstance: ports.shared.kind === 'memory',
    onBackgroundError: ports.onBackgroundError,
  });
  const conversations = new ConversationService(ports.conversations, access, bots, completions, files, replies, events);
  const webhooks = createWebhooks(config.webhooks, {
    repo: ports.webhooks,
    transport: ports.webhookTransport,
    secretBox: ports.secretBox,
    bus: ports.shared.bus,
    onBackgroundError: ports.onBackgroundError,
  });
  const botKeys = new BotKeys(bots, ports.bots, ports.secretBox, ports.shared.limiter, webhooks.service);
  const speech = new SpeechService(ports.speech, {
    audioMaxBytes: config.files.audioMaxBytes,
    languages: config.speech.languages,
  });
  return {
    users,
    sessions,
    apiKeys,
    gatekeeper: new Gatekeeper(new Authenticator(apiKeys, sessions), new QuotaService(ports.shared.limiter, config)),
    channels: new ChannelService(
      ports.channels,
      config.channels,
      ports.secretBox,
      ports.channelHealth,
      ports.channelsChanged,
    ),
    completions,
    usage,
    bots,
    botKeys,
    files,
    conversations,
    replies,
    botReplies: new BotReplies({
      repo: ports.conversations,
      access,
      streams: ports.shared.streams,
      events,
      chat: config.chat,
    }),
    feedback: new FeedbackService(ports.conversations, access, events),
    search: new SearchService(ports.search, ports.conversations, access),
    realtime: new RealtimeService(access, ports.shared.bus, config.realtime.heartbeatMs, ports.onBackgroundError),
    groups: new GroupService(ports.groups, bots, conversations, events),
    webhooks: webhooks.service,
    profiles,
    triggers,
    chatSessions: new ChatSessions(conversations, triggers),
    lobby: new LobbyService(ports.shared.bus),
    webhookWorker: webhooks.worker,
    speech,
    spokenFiles: new SpokenFiles(speech, files),
  };
}

import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { StringEnum } from '../lib/schema.js';

const Tier = Type.Object(
  {
    requestsPerMinute: Type.Integer({ minimum: 1 }),
    requestsPerDay: Type.Integer({ minimum: 1 }),
    features: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100, default: [] }),
    /** Model ids this tier may use; `*` for all. */
    models: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000, default: ['*'] }),
  },
  { additionalProperties: false },
);

const tier = (requestsPerMinute: number, requestsPerDay: number) =>
  Type.Object(Tier.properties, {
    additionalProperties: false,
    default: { requestsPerMinute, requestsPerDay, features: [], models: ['*'] },
  });

/** A URL path prefix: `/a/b`. */
const mount = (path: string) => Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)+$', maxLength: 200, default: path });

/** A surface: whether it is served, where, and the options of its own. */
function surface<Options extends TProperties = Record<never, never>>(path: string, options?: Options) {
  return Type.Object(
    { enabled: Type.Boolean({ default: true }), mount: mount(path), ...(options as Options) },
    { additionalProperties: false, default: {} },
  );
}

/** The whole configuration; every key has a default, so an empty file (or none) is a valid config. */
export const PROVIDER_KINDS = ['openai', 'anthropic', 'google', 'ollama', 'openai-compatible', 'local'] as const;
export const ROUTING_STRATEGIES = ['priority', 'weighted', 'round-robin', 'least-connections'] as const;

/** An upstream endpoint. Channels in config are fixed; the admin API manages more in the database. */
export const ChannelConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    provider: StringEnum(PROVIDER_KINDS),
    /** API base URL; for `local`, the path of the GGUF file. */
    baseUrl: Type.String({ default: '', maxLength: 2000 }),
    apiKeys: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { maxItems: 100, default: [] }),
    /** Model ids served; `*` for any. */
    models: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 1000, default: ['*'] }),
    priority: Type.Integer({ minimum: -1000, maximum: 1000, default: 0 }),
    weight: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
    strategy: StringEnum(ROUTING_STRATEGIES, { default: 'priority' }),
    enabled: Type.Boolean({ default: true }),
    /** Requests per day through this channel; 0 for no limit. */
    dailyQuota: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);
export type ChannelConfig = Static<typeof ChannelConfig>;

export const ModelConfig = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    displayName: Type.String({ maxLength: 200, default: '' }),
    /** The model's name at the upstream, when it differs from `id`. */
    upstreamId: Type.String({ maxLength: 200, default: '' }),
    provider: Type.String({ maxLength: 50, default: '' }),
    contextLength: Type.Integer({ minimum: 1, default: 8192 }),
    maxTokens: Type.Integer({ minimum: 1, default: 4096 }),
    capabilities: Type.Object(
      {
        vision: Type.Boolean({ default: false }),
        tools: Type.Boolean({ default: true }),
        embeddings: Type.Boolean({ default: false }),
        audio: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type ModelConfig = Static<typeof ModelConfig>;

export const SPEECH_PROVIDER_KINDS = ['openai', 'openai-compatible'] as const;
/** The audio formats OpenAI's speech endpoint produces (its `response_format`). */
export const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;

/** OpenAI's voices, which most OpenAI-compatible speech servers accept as well. */
const OPENAI_VOICES = ['alloy', 'ash', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer'];

/** An OpenAI-style audio endpoint; `openai` needs only `apiKey`, `openai-compatible` needs `baseUrl`. */
const speechProvider = <Extra extends TProperties>(model: string, extra: Extra) =>
  Type.Object(
    {
      /** How clients name it (`provider`, `stt_provider`, `tts_provider`); `openai` is what the zeebee SDK sends. */
      name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', default: 'openai' }),
      displayName: Type.String({ maxLength: 200, default: '' }),
      provider: StringEnum(SPEECH_PROVIDER_KINDS, { default: 'openai' }),
      /** API root, e.g. `http://localhost:8000/v1`; empty: OpenAI's. */
      baseUrl: Type.String({ maxLength: 2000, default: '' }),
      apiKey: Type.String({ maxLength: 1000, default: '' }),
      model: Type.String({ minLength: 1, maxLength: 200, default: model }),
      /** How long one call may take, answer included. */
      timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000 }),
      ...extra,
    },
    { additionalProperties: false },
  );

export const SttProviderConfig = speechProvider('whisper-1', {
  /** `verbose_json` also tells the language heard; models that only answer `json` need `json`. */
  responseFormat: StringEnum(['json', 'verbose_json'], { default: 'verbose_json' }),
});
export type SttProviderConfig = Static<typeof SttProviderConfig>;

export const TtsProviderConfig = speechProvider('tts-1', {
  voices: Type.Array(
    Type.Object(
      {
        id: Type.String({ minLength: 1, maxLength: 200 }),
        name: Type.String({ maxLength: 200, default: '' }),
        gender: Type.String({ maxLength: 50, default: '' }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 1000, default: OPENAI_VOICES.map((id) => ({ id, name: '', gender: '' })) },
  ),
  /** Empty: the first of `voices`. */
  defaultVoice: Type.String({ maxLength: 200, default: '' }),
  format: StringEnum(SPEECH_FORMATS, { default: 'mp3' }),
  /** The longest text one call may carry; longer text is spoken in several calls, cut between sentences. */
  maxInputChars: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 4096 }),
});
export type TtsProviderConfig = Static<typeof TtsProviderConfig>;

export const ConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    dataDir: Type.String({ minLength: 1, default: './data' }),
    /** Empty: SQLite in dataDir. `postgres://…`: PostgreSQL. */
    databaseUrl: Type.String({ default: '', pattern: '^(|postgres(ql)?://.+)$' }),
    databasePoolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
    /** Empty: in-process shared state. `redis://…`: Redis, required to run several instances. */
    redisUrl: Type.String({ default: '', pattern: '^(|rediss?://.+)$' }),
    redisKeyPrefix: Type.String({ default: 'parley:', maxLength: 64 }),
    /** Signs sessions and derives encryption keys. Empty: generated once and kept in dataDir. */
    secret: Type.String({ default: '', pattern: '^(|.{32,})$' }),
    logLevel: StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024, default: 1024 * 1024 }),
    /**
     * Whose `X-Forwarded-For` to believe: false (nobody), a hop count, or addresses/CIDRs of the
     * proxies (comma-separated). `true` believes any client, so only use it behind a proxy that
     * overwrites the header.
     */
    trustProxy: Type.Union([Type.Boolean(), Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })], {
      default: false,
    }),
    shutdownTimeoutMs: Type.Integer({ minimum: 0, default: 10_000 }),
    cors: Type.Object(
      { origins: Type.Array(Type.String({ minLength: 1 }), { default: [] }) },
      { additionalProperties: false, default: { origins: [] } },
    ),
    session: Type.Object(
      { lifetimeSeconds: Type.Integer({ minimum: 60, default: 7 * 24 * 3600 }) },
      { additionalProperties: false, default: { lifetimeSeconds: 7 * 24 * 3600 } },
    ),
    allowRegistration: Type.Boolean({ default: true }),
    service: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 100, default: 'Parley' }),
        description: Type.String({ maxLength: 2000, default: 'A self-hosted AI chat platform' }),
        socials: Type.Record(Type.String(), Type.String({ maxLength: 500 }), { default: {} }),
      },
      { additionalProperties: false, default: {} },
    ),
    tiers: Type.Object(
      {
        free: tier(10, 100),
        basic: tier(60, 1000),
        pro: tier(120, 5000),
        enterprise: tier(500, 50000),
      },
      { additionalProperties: false, default: {} },
    ),
    anonymous: Type.Object(
      { requestsPerMinute: Type.Integer({ minimum: 1, default: 10 }) },
      { additionalProperties: false, default: {} },
    ),
    channels: Type.Array(ChannelConfig, { maxItems: 1000, default: [] }),
    models: Type.Array(ModelConfig, { maxItems: 10000, default: [] }),
    /** A GGUF file to serve in-process (adds a `local` channel). */
    localModel: Type.String({ default: '', maxLength: 2000 }),
    routing: Type.Object(
      {
        /** Give up on an upstream that has not produced its first token by then, and try the next. */
        firstTokenTimeoutMs: Type.Integer({ minimum: 1, default: 30_000 }),
        /** A whole answer asked for without streaming (it has no first token to wait for). */
        completionTimeoutMs: Type.Integer({ minimum: 1, default: 600_000 }),
        /** After the first token, the longest silence before the answer is ended as failed. */
        idleTimeoutMs: Type.Integer({ minimum: 1, default: 60_000 }),
        /** How long a failing channel rests: after the 1st, 2nd, and 3rd or later consecutive failure. */
        cooldownMs: Type.Array(Type.Integer({ minimum: 0 }), {
          minItems: 1,
          maxItems: 10,
          default: [30_000, 60_000, 300_000],
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    chat: Type.Object(
      {
        /** The model of conversations whose bot names none; empty: the first model the user may use. */
        defaultModel: Type.String({ maxLength: 200, default: '' }),
        /** Name conversations after their first exchange, with their own model. */
        generateTitles: Type.Boolean({ default: true }),
        /** How often a reply being generated is saved, so that a crash loses at most this much of it. */
        saveIntervalMs: Type.Integer({ minimum: 50, default: 1000 }),
        /**
         * A reply not saved for this long has lost its writer (its instance died); it is then marked
         * failed, its partial content kept. A single instance does so at start without waiting.
         */
        streamLeaseMs: Type.Integer({ minimum: 1000, default: 30_000 }),
        /** How long a finished reply's deltas stay replayable. */
        streamRetentionSeconds: Type.Integer({ minimum: 1, default: 600 }),
        /** The longest message a user may send. */
        maxMessageChars: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 100_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    files: Type.Object(
      {
        imageMaxBytes: Type.Integer({ minimum: 1, default: 10 * 1024 * 1024 }),
        audioMaxBytes: Type.Integer({ minimum: 1, default: 25 * 1024 * 1024 }),
        otherMaxBytes: Type.Integer({ minimum: 1, default: 25 * 1024 * 1024 }),
        maxFilesPerUpload: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
        /** Text files attached to a message reach the model inline, up to this size each. */
        inlineTextMaxBytes: Type.Integer({ minimum: 0, default: 64 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Speech recognition and synthesis providers; none by default, and speech routes then answer 503. */
    speech: Type.Object(
      {
        stt: Type.Array(SttProviderConfig, { maxItems: 100, default: [] }),
        tts: Type.Array(TtsProviderConfig, { maxItems: 100, default: [] }),
        /** Languages offered to voice clients (ISO 639-1 codes); the first is the default. */
        languages: Type.Array(Type.String({ pattern: '^[a-z]{2,3}$' }), {
          minItems: 1,
          maxItems: 200,
          default: ['en', 'es', 'fr', 'de', 'it', 'pt', 'nl', 'ja', 'zh', 'ko'],
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    webhooks: Type.Object(
      {
        /**
         * Hosts, IP addresses or CIDRs that webhooks may reach although they are loopback, private,
         * link-local or otherwise internal (refused by default).
         */
        allowlist: Type.Array(
          Type.String({ minLength: 1, maxLength: 253, pattern: '^\\[?[A-Za-z0-9_.:-]+\\]?(/[0-9]{1,3})?$' }),
          { maxItems: 1000, default: [] },
        ),
        /** The first retry comes within this delay; each later one within twice the previous. */
        retryBaseMs: Type.Integer({ minimum: 1, default: 2000 }),
        /** The longest wait between two attempts. */
        retryMaxDelayMs: Type.Integer({ minimum: 1, default: 3_600_000 }),
        /** A delivery not accepted within this time of its creation is given up (failed). */
        retryForMs: Type.Integer({ minimum: 1, default: 24 * 3_600_000 }),
        /** How long one attempt may take, answer included. */
        timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
        /** How often each instance looks for events to dispatch and deliveries that are due. */
        pollIntervalMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 500 }),
        maxPerUser: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * Where each API surface is mounted, and whether it is. Two surfaces may share a prefix as long
     * as their routes differ; a collision stops the server at start.
     */
    surfaces: Type.Object(
      {
        openai: surface('/v1'),
        bambisleep: surface('/v1', {
          websocket: mount('/ws/chat'),
          /** `POST /ai/generate` continues the caller's latest session while it was active this recently. */
          sessionIdleMinutes: Type.Number({ exclusiveMinimum: 0, maximum: 525_600, default: 30 }),
          /** The document's rate limits, counted besides the tier's quota. */
          requestsPerMinute: Type.Integer({ minimum: 1, default: 60 }),
          anonymousRequestsPerMinute: Type.Integer({ minimum: 1, default: 10 }),
        }),
        botyard: surface('/v1/client-api', {
          /**
           * A built Botyard web client (its index.html and assets) to serve at `/` on the same origin
           * as the API, with index.html for other page paths; empty: none is served.
           */
          webRoot: Type.String({ default: '', maxLength: 2000 }),
        }),
        zeebee: surface('/api', { websocket: mount('/api/ws/voice') }),
        chatai: surface('/chatai', {
          /** In a group, each member has a conversation of their own instead of one for the group. */
          isolateGroupMembers: Type.Boolean({ default: false }),
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    profiles: Type.Object(
      {
        /** The XP each level starts at: level n needs levelThresholds[n - 1]; the first entry is 0. */
        levelThresholds: Type.Array(Type.Integer({ minimum: 0 }), {
          minItems: 1,
          maxItems: 1000,
          default: [0, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000],
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    loginThrottle: Type.Object(
      {
        perUsername: Type.Integer({ minimum: 1, default: 10 }),
        perIp: Type.Integer({ minimum: 1, default: 50 }),
        windowSeconds: Type.Integer({ minimum: 1, default: 15 * 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
    realtime: Type.Object(
      {
        /** A socket opened without credentials is closed when no `auth` frame came by then. */
        authTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
        /** How often each socket is pinged; one that has not answered the previous ping is cut. */
        heartbeatMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
        /** Bytes waiting to be sent to one socket beyond which it is closed as too slow. */
        maxBufferedBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024, default: 1024 * 1024 }),
        /** The largest frame a client may send. */
        maxPayloadBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
        /** Rooms (conversations) one socket may join. */
        maxSubscriptions: Type.Integer({ minimum: 1, maximum: 100_000, default: 100 }),
        /** Sockets one user may hold open on one instance. */
        maxSocketsPerUser: Type.Integer({ minimum: 1, maximum: 100_000, default: 20 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type TierName = keyof Config['tiers'];
export const TIER_NAMES = ['free', 'basic', 'pro', 'enterprise'] as const satisfies readonly TierName[];

/** Keys that `config print` masks and logs never show. */
export const SECRET_KEYS = ['secret', 'databaseUrl', 'redisUrl'] as const;

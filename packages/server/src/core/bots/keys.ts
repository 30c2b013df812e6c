import { createHash, randomBytes } from 'node:crypto';
import type { User } from '../accounts/model.js';
import type { SecretBox } from '../channels/ports.js';
import { Invalid, RateLimited, Unauthorized } from '../errors.js';
import type { RateLimiter } from '../shared-state.js';
import type { WebhookService } from '../webhooks/service.js';
import type { Bot, BotRepository } from './model.js';
import type { BotService } from './service.js';

const BOT_KEY_PREFIX = 'bk_';
const SIGNING_SECRET_PREFIX = 'whsec_';
/** What an external bot may call on the bot API per minute. */
const BOT_REQUESTS_PER_MINUTE = 600;

export interface BotCredentials {
  /** Authenticates the bot's program on the bot API (`Authorization: Bearer bk_…`). */
  botKey: string;
  /** Verifies the deliveries Parley POSTs to the bot's webhook URL (`X-Parley-Signature`). */
  signingSecret: string;
}

/**
 * The credentials of external bots: a key their program calls the bot API with (stored as a hash)
 * and a secret Parley signs its deliveries to them with (sealed, since it must be used again). Both
 * are shown once, when issued.
 */
export class BotKeys {
  constructor(
    private readonly bots: BotService,
    private readonly repo: BotRepository,
    private readonly secretBox: SecretBox,
    private readonly limiter: RateLimiter,
    private readonly webhooks: WebhookService,
  ) {}

  /** New credentials for an external bot the user may change; the previous ones stop working at once. */
  async issue(user: User, botId: string): Promise<BotCredentials> {
    const bot = await this.bots.editable(user, botId);
    if (bot.kind !== 'external') throw new Invalid('Only external bots have keys', 'kind');
    const credentials = {
      botKey: BOT_KEY_PREFIX + randomBytes(32).toString('base64url'),
      signingSecret: SIGNING_SECRET_PREFIX + randomBytes(32).toString('base64url'),
    };
    const key = {
      keyHash: hash(credentials.botKey),
      sealedSigningSecret: this.secretBox.seal(credentials.signingSecret),
    };
    // The endpoint first: a URL refused by the address guard leaves the old credentials in place.
    await this.syncEndpoint({ ...bot, ...key });
    await this.repo.setKey(bot.id, key);
    return credentials;
  }

  /** Points the bot's deliveries at its current webhook URL, or stops them (an AI bot, or a deleted one). */
  async syncEndpoint(bot: Bot, deleted = false): Promise<void> {
    const live = !deleted && bot.kind === 'external' && bot.webhookUrl && bot.sealedSigningSecret;
    await this.webhooks.setBotEndpoint(
      bot.id,
      live ? { url: bot.webhookUrl!, sealedSecret: bot.sealedSigningSecret! } : null,
    );
  }

  /** The external bot a key belongs to, within its request quota. */
  async authenticate(key: string | undefined): Promise<Bot> {
    const bot = key?.startsWith(BOT_KEY_PREFIX) ? await this.repo.findByKeyHash(hash(key)) : undefined;
    if (!bot || bot.kind !== 'external') throw new Unauthorized('A valid bot key is required');
    const state = await this.limiter.consume([
      { key: `bot:${bot.id}`, limit: BOT_REQUESTS_PER_MINUTE, windowMs: 60_000 },
    ]);
    if (!state.allowed) throw new RateLimited('Too many requests from this bot', state);
    return bot;
  }

  /** The secret deliveries to the bot are signed with; undefined before its first key. */
  signingSecret(bot: Bot): string | undefined {
    return bot.sealedSigningSecret ? this.secretBox.open(bot.sealedSigningSecret) : undefined;
  }
}

function hash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

import type { Config } from '../../config/schema.js';
import type { Principal } from '../accounts/authenticate.js';
import type { User } from '../accounts/model.js';
import type { Bot, GenerationParams } from '../bots/model.js';
import type { ChatRequest, ModelInfo, TokenUsage } from '../chat-model.js';
import type { CallContext, CompletionService } from '../completions.js';
import { messageText, type TokenCounter } from '../context-window.js';
import { DomainError, Invalid, ModelNotFound } from '../errors.js';
import { outboxEvent, type DomainEventPublisher } from '../events.js';
import type { StoredFile } from '../files/model.js';
import type { Group, GroupRepository } from '../groups/model.js';
import type { ProfileService } from '../profiles/service.js';
import type { TriggerService } from '../triggers/service.js';
import { addressesBot } from '../groups/service.js';
import type { Bus, StreamBuffer, StreamEnd } from '../shared-state.js';
import type { ConversationAccess } from './access.js';
import { buildChatRequest, type ContextSources } from './context.js';
import { completedEvent, failureOf, newMessage } from './messages.js';
import type { Conversation, Message } from './model.js';
import { CLIENT_ID, MAX_ATTACHMENTS_PER_MESSAGE } from './rules.js';
import { fallbackTitle, generateTitle } from './titles.js';

/** Who asks for a reply, and through which surface and key: what the usage ledger records. */
export interface Caller {
  user: User;
  apiKeyId: string | null;
  surface: string;
}

/** The caller a principal makes on a surface. */
export function callerOf(principal: Principal, surface: string): Caller {
  return { user: principal.user, apiKeyId: principal.via === 'key' ? principal.key.id : null, surface };
}

export interface NewMessage {
  content: string;
  attachmentIds?: string[];
  /** The sender's idempotency key. */
  clientId?: string;
  /** How the reply is generated, over the bot's own settings (a request's temperature, say). */
  params?: GenerationParams;
}

/** What a follower of a reply receives: its deltas, then the reply as stored once it has ended. */
export type ReplyEvent = { type: 'delta'; seq: number; text: string } | { type: 'end'; message: Message };

export interface Exchange {
  userMessage: Message;
  /** Null when no reply is generated here (an external bot answers through its own API). */
  reply: Message | null;
  /** The same clientId was sent before: these are the messages stored then. */
  duplicate?: boolean;
}

export interface ReplyDependencies extends ContextSources {
  access: ConversationAccess;
  groups: GroupRepository;
  completions: CompletionService;
  streams: StreamBuffer;
  bus: Bus;
  events: DomainEventPublisher;
  tokens: () => TokenCounter;
  triggers: Pick<TriggerService, 'activeIn'>;
  profiles: Pick<ProfileService, 'rewardReply'>;
  chat: Config['chat'];
  /** No other instance shares the store: every reply still marked streaming at start was cut by a crash. */
  singleInstance: boolean;
  onBackgroundError: (err: unknown) => void;
}

interface Replier {
  conversation: Conversation;
  bot: Bot | null;
  group: Group | null;
  model?: ModelInfo;
  /** The request's own generation settings, over the bot's. */
  params?: GenerationParams;
}

interface Running {
  conversationId: string;
  controller: AbortController;
  done: Promise<void>;
}

const INTERRUPTED = {
  code: 'INTERRUPTED',
  message: 'The reply was interrupted before it was complete (the server stopped)',
} as const;
/** The abort reason of replies ended because this instance is shutting down. */
const SHUTDOWN = new Error('The server is shutting down');
const STOP_TOPIC = 'message.stop';
/** How long `stop` waits for the generating instance to confirm. */
const STOP_WAIT_MS = 10_000;

/**
 * Replies: stores the user's message, generates the bot's reply off the request path into the
 * stream buffer (so any client, on any instance, can follow it, leave and come back), saves its
 * progress as it goes, and ends it whatever happens: complete, error, or cancelled by a stop.
 */
export class ReplyService {
  private readonly running = new Map<string, Running>();
  private unsubscribeStop: (() => Promise<void>) | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ReplyDependencies) {}

  /** Ends replies cut by a crash, and takes part in stops and recovery across instances. */
  async start(): Promise<void> {
    this.unsubscribeStop = await this.deps.bus.subscribe(STOP_TOPIC, (event) => {
      const { messageId } = event as { messageId: string };
      this.running.get(messageId)?.controller.abort(new Error('Stopped'));
    });
    await this.recover(this.deps.singleInstance ? Date.now() + 1 : Date.now() - this.deps.chat.streamLeaseMs);
    if (!this.deps.singleInstance) {
      this.sweeper = setInterval(() => {
        this.recover(Date.now() - this.deps.chat.streamLeaseMs).catch(this.deps.onBackgroundError);
      }, this.deps.chat.streamLeaseMs / 2);
      this.sweeper.unref();
    }
  }

  /** Ends every reply this instance generates (their partial content saved), then stops. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const run of this.running.values()) run.controller.abort(SHUTDOWN);
    await Promise.all([...this.running.values()].map((run) => run.done));
    const unsubscribe = this.unsubscribeStop;
    this.unsubscribeStop = undefined;
    await unsubscribe?.();
  }

  async send(caller: Caller, conversationId: string, input: NewMessage): Promise<Exchange> {
    const conversation = await this.deps.access.conversation(caller.user, conversationId);
    if (input.clientId !== undefined) {
      checkClientId(input.clientId);
      const earlier = await this.deps.repo.findMessageByClientId(conversation.id, input.clientId);
      if (earlier) return { userMessage: earlier, reply: await this.replyTo(earlier), duplicate: true };
    }
    const parentId = await this.deps.repo.latestMessageId(conversation.id);
    return this.exchange(caller, conversation, { ...input, parentId });
  }

  /** A new reply to the same question: a sibling of the reply given (or a reply to the user message given). */
  async regenerate(caller: Caller, messageId: string): Promise<Exchange> {
    const { message, conversation } = await this.deps.access.message(caller.user, messageId);
    const question =
      message.role === 'user'
        ? message
        : message.parentId === null
          ? undefined
          : await this.deps.repo.findMessage(message.parentId);
    if (!question || question.role !== 'user') throw new Invalid('Only a reply to a user message can be regenerated');
    const { bot, model, group } = await this.replier(caller.user, conversation);
    if (bot?.kind === 'external') throw new Invalid('An external bot answers through its own API');
    if (!model) throw new ModelNotFound(this.deps.chat.defaultModel || '(no model is configured)');
    const reply = this.newReply(question, bot, model);
    await this.deps.repo.insertMessages([reply]);
    this.deps.events.publish('message.created', { message: reply });
    this.launch(caller, { conversation, bot, group, model }, question, reply);
    return { userMessage: question, reply };
  }

  /** A changed copy of a user message, as a sibling of it (a new branch), answered anew. */
  async edit(caller: Caller, messageId: string, content: string): Promise<Exchange> {
    const { message, conversation } = await this.deps.access.message(caller.user, messageId);
    if (message.role !== 'user' || message.senderId !== caller.user.id) {
      throw new Invalid('Only your own messages can be edited');
    }
    return this.exchange(caller, conversation, {
      content,
      attachmentIds: message.attachments,
      parentId: message.parentId,
    });
  }

  /** Cancels a reply being generated (on whichever instance) and answers it as it ended. */
  async stop(user: User, messageId: string): Promise<Message> {
    const { message } = await this.deps.access.message(user, messageId);
    if (message.status !== 'streaming') return message;
    const ended = this.settled(message, STOP_WAIT_MS);
    const local = this.running.get(message.id);
    if (local) local.controller.abort(new Error('Stopped'));
    else await this.deps.bus.publish(STOP_TOPIC, { messageId: message.id });
    return ended;
  }

  async stopConversation(conversationId: string): Promise<void> {
    const runs = [...this.running.values()].filter((run) => run.conversationId === conversationId);
    for (const run of runs) run.controller.abort(new Error('Stopped'));
    await Promise.all(runs.map((run) => run.done));
  }

  /** A reply (a bot's message) the user may read. */
  async reply(user: User, messageId: string): Promise<Message> {
    const { message } = await this.deps.access.message(user, messageId);
    if (message.role !== 'assistant') throw new Invalid('Only replies stream; this is not a reply');
    return message;
  }

  /** Follows a reply: the deltas after `afterSeq`, live ones as they come, then the reply as stored once it ended. */
  async followReply(reply: Message, afterSeq: number, onEvent: (event: ReplyEvent) => void): Promise<() => void> {
    const { streams, repo } = this.deps;
    if (reply.status !== 'streaming' && (await streams.text(reply.id)) === undefined) {
      // Its deltas have expired from the buffer: the stored reply is replayed whole.
      if (afterSeq === 0 && reply.content) onEvent({ type: 'delta', seq: 1, text: reply.content });
      onEvent({ type: 'end', message: reply });
      return () => {};
    }
    return streams.follow(reply.id, afterSeq, (event) => {
      if (event.type === 'delta') {
        onEvent(event);
        return;
      }
      repo
        .findMessage(reply.id)
        .then((stored) => onEvent({ type: 'end', message: stored ?? endedCopy(reply, event) }))
        .catch(this.deps.onBackgroundError);
    });
  }

  /** The reply once it has ended complete; one that ended otherwise is thrown as why it did. */
  async completed(reply: Message): Promise<Message> {
    const ended = await this.settled(reply);
    const failure = failureOf(ended);
    if (failure) throw failure;
    return ended;
  }

  /** The reply once it has ended. */
  settled(reply: Message, timeoutMs = Infinity): Promise<Message> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let stop: (() => void) | undefined;
      let result: Message | undefined;
      const finish = (message: Message) => {
        clearTimeout(timer);
        stop?.();
        result = message;
        resolve(message);
      };
      if (timeoutMs !== Infinity) {
        timer = setTimeout(() => {
          stop?.();
          this.deps.repo.findMessage(reply.id).then((m) => resolve(m ?? reply), reject);
        }, timeoutMs);
      }
      this.followReply(reply, Number.MAX_SAFE_INTEGER, (event) => {
        if (event.type === 'end') finish(event.message);
      }).then((unfollow) => {
        if (result) unfollow();
        else stop = unfollow;
      }, reject);
    });
  }

  /**
   * Marks replies whose writer is gone (saved last before `savedBefore`) as interrupted, keeping
   * their partial content: the longer of what was saved and what the stream buffer still holds.
   */
  async recover(savedBefore: number): Promise<void> {
    for (const message of await this.deps.repo.staleStreamingMessages(savedBefore)) {
      if (this.running.has(message.id)) continue;
      const buffered = await this.deps.streams.text(message.id);
      const content = buffered !== undefined && buffered.length > message.content.length ? buffered : message.content;
      const ended: Message = { ...message, content, status: 'error', error: INTERRUPTED, updatedAt: Date.now() };
      const conversation = await this.deps.repo.findById(message.conversationId);
      const events = conversation ? [await completedEvent(this.deps.access, conversation, ended)] : [];
      await this.deps.repo.updateMessage(
        message,
        { content, status: 'error', error: INTERRUPTED, updatedAt: ended.updatedAt },
        events,
      );
      this.deps.streams.end(message.id, { status: 'error', error: INTERRUPTED });
      this.deps.events.publish('message.completed', { message: ended });
    }
  }

  private async exchange(
    caller: Caller,
    conversation: Conversation,
    input: NewMessage & { parentId: string | null },
  ): Promise<Exchange> {
    const { user } = caller;
    const attachmentIds = input.attachmentIds ?? [];
    if (attachmentIds.length > MAX_ATTACHMENTS_PER_MESSAGE) {
      throw new Invalid(`A message may have at most ${MAX_ATTACHMENTS_PER_MESSAGE} attachments`, 'attachmentIds');
    }
    if (input.content.length > this.deps.chat.maxMessageChars) {
      throw new Invalid(`content must be at most ${this.deps.chat.maxMessageChars} characters`, 'content');
    }
    if (!input.content.trim() && attachmentIds.length === 0) throw new Invalid('content must not be empty', 'content');
    const files: StoredFile[] = attachmentIds.length ? await this.deps.files.attachable(user, attachmentIds) : [];
    const { bot, model, group } = await this.replier(user, conversation);

    const userMessage = newMessage({
      conversationId: conversation.id,
      senderId: user.id,
      role: 'user',
      content: input.content,
      attachments: files.map((f) => f.id),
      status: 'complete',
      parentId: input.parentId,
      clientId: input.clientId ?? null,
    });
    const answered =
      bot?.kind !== 'external' && (group === null || (bot !== null && addressesBot(group, bot, input.content)));
    const outcome = answered ? this.deps.bots.interpret(bot, input.content) : undefined;
    if (outcome && outcome.kind !== 'reply' && !model) {
      throw new ModelNotFound(this.deps.chat.defaultModel || '(no model is configured)');
    }
    const reply = outcome ? this.newReply(userMessage, bot, model) : null;
    if (reply && outcome?.kind === 'reply') Object.assign(reply, { content: outcome.text, status: 'complete' });
    const audience = await this.deps.access.audience(conversation);
    const events = [outboxEvent('message.new', audience, { conversationId: conversation.id, message: userMessage })];
    if (bot?.kind === 'external' && (group === null || addressesBot(group, bot, input.content))) {
      // The bot's program answers through the bot API; the message is delivered to it like a webhook.
      events.push(
        outboxEvent('bot.message', [bot.id], {
          conversationId: conversation.id,
          bot: { id: bot.id, name: bot.name },
          message: userMessage,
        }),
      );
    }
    if (reply?.status === 'complete')
      events.push(await completedEvent(this.deps.access, conversation, reply, audience));
    await this.deps.repo.insertMessages(reply ? [userMessage, reply] : [userMessage], events);
    this.deps.events.publish('message.created', { message: userMessage });
    if (!reply) return { userMessage, reply };
    this.deps.events.publish('message.created', { message: reply });
    if (reply.status === 'complete') {
      // Answered by Parley itself: followers see it as any other reply.
      this.deps.streams.append(reply.id, 1, reply.content);
      this.deps.streams.end(reply.id, { status: 'complete' });
      this.deps.events.publish('message.completed', { message: reply });
    } else {
      this.launch(caller, { conversation, bot, group, model: model!, params: input.params }, userMessage, reply);
    }
    return { userMessage, reply };
  }

  private newReply(question: Message, bot: Bot | null, model: ModelInfo | undefined): Message {
    return newMessage(
      {
        conversationId: question.conversationId,
        senderId: bot?.id ?? null,
        role: 'assistant',
        content: '',
        model: model?.id ?? null,
        status: 'streaming',
        parentId: question.id,
      },
      question,
    );
  }

  /** Who answers in the conversation: its bot (if it still exists), with which model, and its group's rules. */
  private async replier(user: User, conversation: Conversation): Promise<Replier> {
    const [bot, group] = await Promise.all([
      this.deps.bots.ofConversation(conversation),
      conversation.groupId === null ? null : this.deps.groups.findById(conversation.groupId).then((g) => g ?? null),
    ]);
    const id = conversation.model ?? bot?.model ?? (this.deps.chat.defaultModel || undefined);
    if (id !== undefined) return { conversation, bot, group, model: await this.deps.completions.modelFor(user, id) };
    const chatModels = (await this.deps.completions.models(user)).filter((m) => !m.capabilities.embeddings);
    return { conversation, bot, group, model: chatModels[0] };
  }

  private async replyTo(question: Message): Promise<Message | null> {
    const { items } = await this.deps.repo.listMessages({
      conversationId: question.conversationId,
      after: question.id,
      limit: 20,
    });
    return items.find((m) => m.parentId === question.id && m.role === 'assistant') ?? null;
  }

  private launch(caller: Caller, replier: Replier & { model: ModelInfo }, question: Message, reply: Message): void {
    const controller = new AbortController();
    const run: Running = { conversationId: replier.conversation.id, controller, done: Promise.resolve() };
    this.running.set(reply.id, run);
    run.done = this.generate(caller, replier, question, reply, controller.signal)
      .catch(this.deps.onBackgroundError)
      .finally(() => this.running.delete(reply.id));
  }

  private async generate(
    caller: Caller,
    replier: Replier & { model: ModelInfo },
    question: Message,
    reply: Message,
    signal: AbortSignal,
  ): Promise<void> {
    const { conversation, model } = replier;
    const { repo, streams, chat } = this.deps;
    const started = performance.now();
    const context: CallContext = { ...caller, elapsedMs: () => performance.now() - started };
    let content = '';
    let seq = 0;
    let usage: TokenUsage | undefined;
    let request: ChatRequest | undefined;
    let triggersUsed = 0;
    let savedLength = 0;
    let savedAt = Date.now();
    // Saves run one after another, and the final one after them all: on a pool of connections a
    // late progress save could otherwise overwrite the finished reply with less of it.
    let saving = Promise.resolve();
    // Progress is saved as it comes (a crash loses at most one interval of it), and touched now
    // and then while the model is silent, so that other instances see the writer is alive.
    const saver = setInterval(() => {
      const now = Date.now();
      if (content.length === savedLength && now - savedAt < chat.streamLeaseMs / 3) return;
      savedLength = content.length;
      savedAt = now;
      const progress = { content, updatedAt: now };
      saving = saving.then(() => repo.updateMessage(reply, progress)).catch(this.deps.onBackgroundError);
    }, chat.saveIntervalMs);
    saver.unref();

    let end: StreamEnd;
    try {
      const triggers = await this.deps.triggers.activeIn(conversation.id);
      triggersUsed = triggers.length;
      request = await buildChatRequest(this.deps, { ...replier, user: caller.user, leaf: question, triggers });
      const completion = await this.deps.completions.start(context, request, signal);
      for await (const batch of completion) {
        let text = '';
        for (const delta of batch) {
          if (delta.type === 'text') text += delta.text;
          else if (delta.type === 'finish') usage = delta.usage;
        }
        if (!text) continue;
        content += text;
        seq++;
        streams.append(reply.id, seq, text);
        this.deps.events.publish('message.delta', {
          conversationId: reply.conversationId,
          messageId: reply.id,
          seq,
          text,
        });
      }
      end = { status: 'complete' };
    } catch (err) {
      if (!signal.aborted) end = { status: 'error', error: errorOf(err) };
      else end = signal.reason === SHUTDOWN ? { status: 'error', error: INTERRUPTED } : { status: 'cancelled' };
    } finally {
      clearInterval(saver);
    }

    if (end.status === 'complete' && !usage && request) {
      const tokens = this.deps.tokens();
      usage = {
        promptTokens: request.messages.reduce((sum, m) => sum + tokens.count(messageText(m)), 0),
        completionTokens: tokens.count(content),
      };
    }
    await saving;
    const final: Message = {
      ...reply,
      content,
      status: end.status,
      error: end.error ?? null,
      usage: usage ?? null,
      updatedAt: Date.now(),
    };
    await repo.updateMessage(
      reply,
      { content, status: final.status, error: final.error, usage: final.usage, updatedAt: final.updatedAt },
      [await completedEvent(this.deps.access, conversation, final)],
    );
    streams.end(reply.id, end);
    this.deps.events.publish('message.completed', { message: final });
    if (end.status === 'complete') {
      this.deps.profiles.rewardReply(caller.user.id, content, triggersUsed).catch(this.deps.onBackgroundError);
    }
    if (end.status === 'complete' && question.parentId === null && conversation.title === null && chat.generateTitles) {
      void this.nameConversation(context, conversation, model, question.content, content);
    }
  }

  /** Names a conversation after its first exchange; a failure to ask the model falls back to the question's words. */
  private async nameConversation(
    context: CallContext,
    conversation: Conversation,
    model: ModelInfo,
    question: string,
    answer: string,
  ): Promise<void> {
    try {
      let title: string;
      try {
        title = await generateTitle(this.deps.completions, context, model.id, { question, answer });
      } catch (err) {
        if (!(err instanceof DomainError)) this.deps.onBackgroundError(err);
        title = fallbackTitle(question);
      }
      const now = Date.now();
      if (await this.deps.repo.setTitleIfEmpty(conversation.id, title, now)) {
        this.deps.events.publish('conversation.updated', { conversation: { ...conversation, title, updatedAt: now } });
      }
    } catch (err) {
      this.deps.onBackgroundError(err);
    }
  }
}

function checkClientId(clientId: string): void {
  if (clientId.length === 0 || clientId.length > CLIENT_ID.maxLength) {
    throw new Invalid(`clientId must be 1-${CLIENT_ID.maxLength} characters`, 'clientId');
  }
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof DomainError) return { code: err.code, message: err.message };
  return { code: 'MODEL_ERROR', message: 'The model failed to answer' };
}

function endedCopy(reply: Message, end: StreamEnd): Message {
  return { ...reply, status: end.status, error: end.error ?? null };
}

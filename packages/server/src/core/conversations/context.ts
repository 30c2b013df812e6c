import type { User } from '../accounts/model.js';
import type { Bot, GenerationParams } from '../bots/model.js';
import type { BotService } from '../bots/service.js';
import type { ChatMessage, ChatRequest, ContentPart, ModelInfo } from '../chat-model.js';
import type { FileService } from '../files/service.js';
import type { Group } from '../groups/model.js';
import type { Trigger } from '../triggers/model.js';
import type { Conversation, ConversationRepository, Message } from './model.js';
import { CONTEXT_MESSAGES } from './rules.js';

export interface ContextSources {
  repo: ConversationRepository;
  bots: BotService;
  files: FileService;
}

/**
 * What the model is asked for a reply to `leaf`: the conversation's system prompt, then the branch
 * that ends at `leaf` (each message's parent, back to the start or to the last context clear),
 * with commands expanded and attachments as content parts. Replies Parley wrote itself (`/help`)
 * and unfinished replies stay out.
 */
export async function buildChatRequest(
  sources: ContextSources,
  target: {
    user: User;
    conversation: Conversation;
    bot: Bot | null;
    group: Group | null;
    model: ModelInfo;
    leaf: Message;
    /** Active in the conversation: their content follows the system prompt. */
    triggers: readonly Trigger[];
    /** The request's own generation settings, over the bot's. */
    params?: GenerationParams;
  },
): Promise<ChatRequest> {
  const { conversation, bot, group, leaf, model } = target;
  const recent = await sources.repo.recentMessages(conversation.id, {
    limit: CONTEXT_MESSAGES,
    createdAfter: conversation.contextClearedAt,
  });
  const byId = new Map(recent.map((m) => [m.id, m]));
  byId.set(leaf.id, leaf);
  const branch: Message[] = [];
  for (let m: Message | undefined = leaf; m; m = m.parentId === null ? undefined : byId.get(m.parentId)) {
    branch.push(m);
  }
  branch.reverse();
  // In a group whose bot keeps one context per member, the others' exchanges stay out.
  const own = group?.isolation === 'member' ? isolatedTo(branch, target.user.id) : branch;

  const attachments = await sources.files.attachedTo(own);
  const messages: ChatMessage[] = [];
  const system = sources.bots.systemPrompt(bot, conversation, {
    userName: target.user.displayName,
    groupName: group?.name ?? '',
    now: Date.now(),
  });
  const instructions = [system, ...target.triggers.map((t) => t.content)].filter((text) => text.trim());
  if (instructions.length) messages.push({ role: 'system', content: instructions.join('\n\n') });
  const answeredByParley = new Set<string>();
  for (const message of own) {
    if (message.role === 'assistant') {
      if (message.status === 'complete' && message.parentId !== null && !answeredByParley.has(message.parentId)) {
        messages.push({ role: 'assistant', content: message.content });
      }
      continue;
    }
    if (message.role === 'system') {
      messages.push({ role: 'system', content: message.content });
      continue;
    }
    const outcome = sources.bots.interpret(bot, message.content);
    if (outcome.kind === 'reply') {
      answeredByParley.add(message.id);
      continue;
    }
    const text = outcome.kind === 'prompt' ? outcome.text : message.content;
    const files = message.attachments.flatMap((id) => attachments.get(id) ?? []);
    if (files.length === 0) {
      messages.push({ role: 'user', content: text });
      continue;
    }
    const parts: ContentPart[] = text ? [{ type: 'text', text }] : [];
    parts.push(...(await sources.files.contentParts(files, { vision: model.capabilities.vision === true })));
    messages.push({ role: 'user', content: parts });
  }
  return {
    model: model.id,
    messages,
    temperature: target.params?.temperature ?? bot?.params.temperature,
    topP: target.params?.topP ?? bot?.params.topP,
    maxTokens: target.params?.maxTokens ?? bot?.params.maxTokens,
    stream: true,
  };
}

/** The member's own messages and the replies to them. */
function isolatedTo(branch: Message[], userId: string): Message[] {
  const asked = new Set<string>();
  return branch.filter((m) => {
    if (m.role === 'user' && m.senderId === userId) asked.add(m.id);
    return m.role === 'user' ? m.senderId === userId : m.parentId !== null && asked.has(m.parentId);
  });
}

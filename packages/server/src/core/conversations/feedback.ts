import type { User } from '../accounts/model.js';
import { Invalid } from '../errors.js';
import { newId } from '../ids.js';
import type { DomainEventPublisher } from '../events.js';
import type { ConversationAccess } from './access.js';
import type { ConversationRepository, Feedback, FeedbackType } from './model.js';
import { FEEDBACK_COMMENT, RATING } from './rules.js';

export interface FeedbackInput {
  type: FeedbackType;
  /** A rating's stars (1-5); a thumb's is 1. */
  value?: number;
  comment?: string | null;
}

export interface FeedbackSummary {
  total: number;
  positive: number;
  negative: number;
  /** Of ratings only; null without any. */
  averageRating: number | null;
  items: Feedback[];
}

/** What users think of replies: one verdict per user per reply, which they may change. */
export class FeedbackService {
  constructor(
    private readonly repo: ConversationRepository,
    private readonly access: ConversationAccess,
    private readonly events: DomainEventPublisher,
  ) {}

  async give(user: User, messageId: string, input: FeedbackInput): Promise<Feedback> {
    const { message } = await this.access.message(user, messageId);
    if (message.role !== 'assistant') throw new Invalid('Feedback is given on replies only');
    const value = checkValue(input);
    if (input.comment && input.comment.length > FEEDBACK_COMMENT.maxLength) {
      throw new Invalid(`comment must be at most ${FEEDBACK_COMMENT.maxLength} characters`, 'comment');
    }
    const now = Date.now();
    const feedback = await this.repo.upsertFeedback({
      id: newId(),
      messageId: message.id,
      conversationId: message.conversationId,
      userId: user.id,
      type: input.type,
      value,
      comment: input.comment?.trim() || null,
      createdAt: now,
      updatedAt: now,
    });
    this.events.publish('feedback.created', { feedback });
    return feedback;
  }

  async summary(user: User, conversationId: string): Promise<FeedbackSummary> {
    const conversation = await this.access.conversation(user, conversationId);
    const items = await this.repo.listFeedback(conversation.id);
    const ratings = items.filter((f) => f.type === 'rating').map((f) => f.value);
    const positive = items.filter((f) => f.type === 'thumbs_up' || (f.type === 'rating' && f.value >= 4)).length;
    const negative = items.filter((f) => f.type === 'thumbs_down' || (f.type === 'rating' && f.value <= 2)).length;
    return {
      total: items.length,
      positive,
      negative,
      averageRating: ratings.length ? round2(ratings.reduce((a, b) => a + b, 0) / ratings.length) : null,
      items,
    };
  }
}

function checkValue(input: FeedbackInput): number {
  if (input.type === 'rating') {
    const value = input.value;
    if (value === undefined || !Number.isInteger(value) || value < RATING.min || value > RATING.max) {
      throw new Invalid(`A rating's value must be an integer from ${RATING.min} to ${RATING.max}`, 'value');
    }
    return value;
  }
  if (input.value !== undefined && input.value !== 1) throw new Invalid(`A thumb's value is 1`, 'value');
  return 1;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

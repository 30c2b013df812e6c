import type { Feedback, FeedbackType } from '../../../core/conversations/model.js';
import { Invalid, NotFound } from '../../../core/errors.js';
import { principalOf } from '../../auth.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import { ConversationParams, FeedbackBody } from './schemas.js';
import { iso } from './views.js';

const tags = ['zeebee'];
/** A thumb's value here: 1 up, -1 down (0 is also taken for down, as clients send it). */
const THUMB_VALUES = new Set([1, 0, -1]);

export function feedbackRoutes(app: NativeApp, { core }: SurfaceContext): void {
  app.post(
    '/feedback',
    { schema: { tags, summary: 'Rate a reply: a thumb, or a rating of 1-5', body: FeedbackBody } },
    async (request) => {
      const { user } = principalOf(request);
      const { conversation_id, message_id, feedback_type, feedback_value, comment } = request.body;
      if (conversation_id) {
        const message = await core.conversations.message(user, message_id);
        if (message.conversationId !== conversation_id) throw new NotFound('Message');
      }
      const feedback = await core.feedback.give(user, message_id, {
        type: feedback_type,
        value: valueOf(feedback_type, feedback_value ?? undefined),
        comment,
      });
      return { status: 'success', feedback_id: feedback.id };
    },
  );

  app.get(
    '/feedback/analyze/:conversation_id',
    { schema: { tags, summary: "The feedback given on a conversation's replies", params: ConversationParams } },
    async (request) => {
      const { user } = principalOf(request);
      const conversation = await core.conversations.get(user, request.params.conversation_id);
      const summary = await core.feedback.summary(user, conversation.id);
      return {
        conversation_id: conversation.id,
        total_messages: conversation.messageCount,
        messages_with_feedback: new Set(summary.items.map((f) => f.messageId)).size,
        positive_feedback: summary.positive,
        negative_feedback: summary.negative,
        average_rating: summary.averageRating,
        feedback_details: summary.items.map(detail),
      };
    },
  );
}

/** The value the core keeps: a rating's stars; a thumb says all by its type. */
function valueOf(type: FeedbackType, value: number | undefined): number | undefined {
  if (type === 'rating') {
    if (value === undefined) throw new Invalid('A rating needs a feedback_value from 1 to 5', 'feedback_value');
    return value;
  }
  if (value !== undefined && !THUMB_VALUES.has(value)) {
    throw new Invalid("A thumb's feedback_value is 1 (up) or -1 (down)", 'feedback_value');
  }
  return undefined;
}

function detail(feedback: Feedback) {
  return {
    message_id: feedback.messageId,
    feedback_type: feedback.type,
    feedback_value: feedback.type === 'thumbs_down' ? -1 : feedback.value,
    comment: feedback.comment,
    timestamp: iso(feedback.updatedAt),
  };
}

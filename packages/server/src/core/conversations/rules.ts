/** Conversation and message rules, in one place; API schemas reuse these numbers. */
export const TITLE = { maxLength: 200 } as const;
export const MESSAGES_PAGE = { defaultLimit: 50, maxLimit: 200 } as const;
export const CONVERSATIONS_PAGE = { defaultLimit: 20, maxLimit: 100, maxOffset: 100_000 } as const;
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;
export const CLIENT_ID = { maxLength: 100 } as const;
/** An application's own id of an end user or group it speaks for. */
export const END_ID = { maxLength: 200 } as const;
export const FEEDBACK_COMMENT = { maxLength: 2000 } as const;
export const RATING = { min: 1, max: 5 } as const;
/** The most history a reply's context is built from; the model's context window trims it further. */
export const CONTEXT_MESSAGES = 500;

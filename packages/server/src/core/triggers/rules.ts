/** Trigger rules, in one place; API schemas reuse these numbers. */
export const TRIGGER_NAME = { minLength: 1, maxLength: 100 } as const;
export const TRIGGER_DESCRIPTION = { maxLength: 500 } as const;
export const TRIGGER_CONTENT = { minLength: 1, maxLength: 4000 } as const;
export const MAX_TRIGGERS_PER_USER = 200;
export const MAX_ACTIVE_TRIGGERS = 10;
export const TRIGGERS_PAGE = { defaultLimit: 50, maxLimit: 100 } as const;

/** Group rules, in one place; API schemas reuse these numbers. */
export const GROUP_NAME = { minLength: 1, maxLength: 100 } as const;
export const GROUP_PREFIX = { minLength: 1, maxLength: 20 } as const;
export const MAX_GROUP_MEMBERS = 500;
export const MAX_OWNED_GROUPS = 50;
